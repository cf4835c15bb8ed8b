"""Debounce at the gateway, with the official SDKs: a newer request with the same
``x-thrifty-debounce`` key supersedes an older one (a 409 ``superseded``, or an error event
in a stream already started), wait_ms turns a burst into one call, and the ledger says what
each superseded request cost."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest

from tests.gateway.fewer_calls_kit import TIMEOUT, rows, running, sdks, upstream_calls

DEBOUNCE = {"x-thrifty-debounce": "search-box"}


def typed(text: str, latency_ms: int = 0) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"[[sim:latency={latency_ms}]] {text}"}]


async def test_a_newer_request_supersedes_the_older_one(tmp_path: Path) -> None:
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:
            older = asyncio.create_task(
                oai.chat.completions.create(
                    model="gpt-4o-mini", messages=typed("ca", 3000), extra_headers=DEBOUNCE
                )
            )
            await asyncio.sleep(0.3)  # the older call is at the simulator, waiting
            newer = await asyncio.wait_for(
                oai.chat.completions.create(
                    model="gpt-4o-mini", messages=typed("cat"), extra_headers=DEBOUNCE
                ),
                TIMEOUT,
            )
            with pytest.raises(openai.ConflictError) as caught:
                await asyncio.wait_for(older, 2)  # long before its 3 s answer
        assert caught.value.code == "superseded"
        assert newer.choices[0].message.content
        assert await upstream_calls(gw) == 2
        booked = await rows(gw, 2)
    superseded = next(r for r in booked if r.status == 409)
    assert superseded.failure == "superseded"
    assert superseded.error is not None and superseded.error.startswith("superseded:")
    assert superseded.cost_usd is None  # cancelled while the provider worked: unknown, not $0


async def test_a_newer_request_cuts_the_older_stream(tmp_path: Path) -> None:
    async with running(tmp_path, simulator={"port": 0, "stream_chunk_delay_ms": 30}) as gw:
        _, ant = sdks(gw)
        async with ant:
            got: list[str] = []
            reading = asyncio.Event()

            async def older() -> None:
                async with ant.messages.stream(
                    model="claude-haiku-4-5",
                    max_tokens=200,
                    messages=typed("a long story"),
                    extra_headers=DEBOUNCE,
                ) as stream:
                    async for text in stream.text_stream:
                        got.append(text)
                        reading.set()

            task = asyncio.create_task(older())
            await asyncio.wait_for(reading.wait(), TIMEOUT)
            await ant.messages.create(
                model="claude-haiku-4-5",
                max_tokens=10,
                messages=typed("a short one"),
                extra_headers=DEBOUNCE,
            )
            with pytest.raises(anthropic.APIStatusError) as caught:
                await asyncio.wait_for(task, TIMEOUT)
        assert "superseded" in str(caught.value)
        assert got  # it had started: the app got HTTP 200, then the error event
        booked = await rows(gw, 2)
    cut = next(r for r in booked if r.failure == "superseded")
    assert cut.status == 200 and cut.stream
    # What the cut stream consumed is booked, as an estimate: never $0, never nothing.
    assert cut.cost_usd is not None and cut.cost_usd > 0 and cut.cost_estimated


async def test_wait_ms_turns_a_burst_into_one_call(tmp_path: Path) -> None:
    levers = {"debounce": {"wait_ms": 300}}
    async with running(tmp_path, levers=levers) as gw:
        oai, _ = sdks(gw)
        async with oai:

            async def type_(text: str) -> str | BaseException:
                try:
                    answer = await oai.chat.completions.create(
                        model="gpt-4o-mini", messages=typed(text), extra_headers=DEBOUNCE
                    )
                except openai.ConflictError as exc:
                    return exc
                return answer.choices[0].message.content or ""

            tasks = []
            for text in ("c", "ca", "cat", "cats"):
                tasks.append(asyncio.create_task(type_(text)))
                await asyncio.sleep(0.03)
            outcomes = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
        assert [isinstance(o, openai.ConflictError) for o in outcomes] == [True] * 3 + [False]
        assert await upstream_calls(gw) == 1
        booked = await rows(gw, 4)
    superseded = [r for r in booked if r.failure == "superseded"]
    assert len(superseded) == 3
    assert all(r.cost_usd == Decimal(0) for r in superseded)  # they never called


async def test_tenants_never_supersede_each_other(tmp_path: Path) -> None:
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:

            async def ask(tenant: str) -> None:
                await oai.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=typed(tenant, 300),
                    extra_headers={**DEBOUNCE, "x-thrifty-tenant": tenant},
                )

            await asyncio.wait_for(asyncio.gather(ask("a"), ask("b")), TIMEOUT)
        assert await upstream_calls(gw) == 2
