"""Idempotency keys at the gateway, with the official SDKs: a repeat is replayed (a body as
a body, a stream as a stream), another body is a 409 in the endpoint's dialect, in-flight
repeats make no call, failures are not kept, a broken store only costs calls."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.gateway.fewer_calls_kit import TIMEOUT, rows, running, sdks, upstream_calls

KEY = {"Idempotency-Key": "order-7f3a"}
ASK = [{"role": "user", "content": "[[sim:latency=300]] write a haiku"}]


async def test_a_repeat_is_replayed_and_booked_as_avoided(tmp_path: Path) -> None:
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:
            first = await oai.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=ASK, extra_headers=KEY
            )
            again = await oai.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=ASK, extra_headers=KEY
            )
        assert await upstream_calls(gw) == 1
        assert "x-thrifty-idempotency" not in first.headers
        assert again.headers["x-thrifty-idempotency"] == "replay"
        assert again.parse().model_dump() == first.parse().model_dump()  # same id, same text
        booked = await rows(gw, 2)
        assert (tmp_path / "ledger-idempotency.db").exists()  # next to the ledger
    paid, replayed = booked
    assert paid.cost_usd is not None and paid.cost_usd > 0
    assert replayed.cost_usd == Decimal(0) and replayed.calls == ()
    assert replayed.savings == {"idempotency": paid.cost_usd}
    assert replayed.detail == "replay"


async def test_a_stream_is_replayed_as_a_stream(tmp_path: Path) -> None:
    async with running(tmp_path) as gw:
        _, ant = sdks(gw)
        async with ant:

            async def read() -> tuple[str, object]:
                async with ant.messages.stream(
                    model="claude-haiku-4-5", max_tokens=50, messages=ASK, extra_headers=KEY
                ) as stream:
                    text = "".join([t async for t in stream.text_stream])
                    final = await stream.get_final_message()
                return text, final.usage.output_tokens

            first = await read()
            again = await read()
        assert first == again and first[0]
        assert await upstream_calls(gw) == 1
        booked = await rows(gw, 2)
    assert booked[1].stream and booked[1].cost_usd == 0 and "idempotency" in booked[1].savings


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_the_same_key_with_another_body_is_a_409(tmp_path: Path, dialect: str) -> None:
    async with running(tmp_path) as gw:
        oai, ant = sdks(gw)
        async with oai, ant:
            if dialect == "openai":
                await oai.chat.completions.create(model="gpt-4o", messages=ASK, extra_headers=KEY)
                with pytest.raises(openai.ConflictError) as caught:
                    await oai.chat.completions.create(
                        model="gpt-4o", messages=ASK, temperature=0.5, extra_headers=KEY
                    )
                assert caught.value.code == "idempotency_key_reused"
                assert caught.value.type == "invalid_request_error"
            else:
                await ant.messages.create(
                    model="claude-haiku-4-5", max_tokens=20, messages=ASK, extra_headers=KEY
                )
                with pytest.raises(anthropic.ConflictError) as raised:
                    await ant.messages.create(
                        model="claude-haiku-4-5", max_tokens=21, messages=ASK, extra_headers=KEY
                    )
                assert raised.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
                assert "Idempotency-Key" in raised.value.message
        assert await upstream_calls(gw) == 1
        booked = await rows(gw, 2)
    conflict = booked[1]
    assert conflict.status == 409 and conflict.failure == "idempotency_conflict"
    assert conflict.cost_usd == 0


async def test_concurrent_repeats_make_one_call(tmp_path: Path) -> None:
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:

            async def ask() -> str | None:
                answer = await oai.chat.completions.create(
                    model="gpt-4o-mini", messages=ASK, extra_headers=KEY
                )
                return answer.choices[0].message.content

            texts = await asyncio.wait_for(asyncio.gather(*(ask() for _ in range(5))), TIMEOUT)
        assert len(set(texts)) == 1
        assert await upstream_calls(gw) == 1


async def test_a_failure_is_not_kept_and_tenants_do_not_share(tmp_path: Path) -> None:
    async with running(tmp_path) as gw, httpx.AsyncClient() as http:
        assert gw.thrifty.simulator_url is not None
        await http.post(gw.thrifty.simulator_url + "/_sim/faults", json={"fault": "500"})
        oai, _ = sdks(gw)
        async with oai:
            with pytest.raises(openai.InternalServerError):
                await oai.chat.completions.create(model="gpt-4o", messages=ASK, extra_headers=KEY)
            retried = await oai.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=ASK, extra_headers=KEY
            )
            assert "x-thrifty-idempotency" not in retried.headers  # it called again
            assert await upstream_calls(gw) == 2
            other = {**KEY, "x-thrifty-tenant": "another-team"}
            await oai.chat.completions.create(  # another body: no conflict across tenants
                model="gpt-4o-mini", messages=ASK, extra_headers=other
            )
            assert await upstream_calls(gw) == 3


async def test_a_broken_store_costs_calls_not_failures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's directory should be")
    levers = {"idempotency": {"path": str(blocker / "idempotency.db")}}
    async with running(tmp_path, levers=levers) as gw:
        oai, _ = sdks(gw)
        async with oai:
            for _ in range(2):
                await oai.chat.completions.create(
                    model="gpt-4o-mini", messages=ASK, extra_headers=KEY
                )
        assert await upstream_calls(gw) == 2
    assert "cannot open its store" in caplog.text
