"""``X-Thrifty-Defer: 24h`` through the gateway: 202 with a result URL, then the answer
there once the batch ran, booked at batch rates; the official SDKs are the clients."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.batch.conftest import settings_for, submissions
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import RunningServer, start_server
from thrifty.sim import SimConfig, SimServer

DEFER = {"X-Thrifty-Defer": "24h"}


async def wait_for(http: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    for _ in range(200):
        answer = await http.get(url, headers=headers)
        if answer.status_code != 202:
            return answer
    raise AssertionError("the deferred request never finished")


async def test_openai_deferred_request(
    gateway: tuple[RunningServer, Thrifty], sim: SimServer
) -> None:
    server, thrifty = gateway
    async with openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="app", max_retries=0) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "later, please"}],
            extra_headers=DEFER,
        )
    assert raw.status_code == 202
    accepted = raw.http_response.json()
    assert accepted["object"] == "thrifty.deferred" and accepted["status"] == "queued"
    assert raw.headers["location"] == accepted["result_url"]
    assert submissions(sim) == 1  # its job was created on submission
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await wait_for(http, accepted["result_url"], authorization="Bearer app")
        assert answer.status_code == 200 and answer.headers["x-thrifty-batch"] == "batch"
        completion = openai.types.chat.ChatCompletion.model_validate(answer.json())
        assert completion.choices[0].message.content
        other = await http.get(accepted["result_url"], headers={"authorization": "Bearer other"})
        assert other.status_code == 404  # another tenant's result is not there
    (row,) = thrifty.ledger.rows()
    assert row.endpoint == "batch" and row.calls[0].call.batch
    assert row.savings["batch"] is not None and row.savings["batch"] > 0


async def test_anthropic_deferred_request_and_bad_ones(
    gateway: tuple[RunningServer, Thrifty],
) -> None:
    server, _ = gateway
    async with anthropic.AsyncAnthropic(base_url=server.url, api_key="app", max_retries=0) as sdk:
        raw = await sdk.messages.with_raw_response.create(
            model="claude-haiku-4-5",
            max_tokens=50,
            messages=[{"role": "user", "content": "later"}],
            extra_headers=DEFER,
        )
        assert raw.status_code == 202
        url = raw.http_response.json()["result_url"]
        with pytest.raises(anthropic.BadRequestError, match="X-Thrifty-Defer"):
            await sdk.messages.create(
                model="claude-haiku-4-5",
                max_tokens=50,
                messages=[{"role": "user", "content": "x"}],
                extra_headers={"X-Thrifty-Defer": "forever"},
            )
        with pytest.raises(anthropic.BadRequestError, match="stream"):
            await sdk.messages.create(
                model="claude-haiku-4-5",
                max_tokens=50,
                messages=[{"role": "user", "content": "x"}],
                stream=True,
                extra_headers=DEFER,
            )
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await wait_for(
            http, url, **{"x-api-key": "app", "anthropic-version": "2023-06-01"}
        )
        assert answer.status_code == 200
        assert anthropic.types.Message.model_validate(answer.json()).usage.service_tier == "batch"
        missing = await http.get("/v1/thrifty/deferred/tb_nothing")
        assert missing.status_code == 404


async def test_bad_deferred_requests_are_400s(gateway: tuple[RunningServer, Thrifty]) -> None:
    server, thrifty = gateway
    url = "/v1/chat/completions"
    good = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    async with httpx.AsyncClient(base_url=server.url) as http:
        broken = await http.post(
            url, content=b"{", headers={**DEFER, "content-type": "application/json"}
        )
        assert broken.status_code == 400 and "not valid JSON" in broken.text
        unknown = await http.post(url, json={**good, "model": "nobody-serves-this"}, headers=DEFER)
        assert unknown.status_code == 400 and "unknown model" in unknown.text
        task = await http.post(url, json=good, headers={**DEFER, "x-thrifty-task": "bad task!"})
        assert task.status_code == 400 and "x-thrifty-task" in task.text
        accepted = await http.post(url, json=good, headers=DEFER)
        assert accepted.status_code == 202
        tenant = await http.get(accepted.json()["result_url"], headers={"x-thrifty-tenant": "a b"})
        assert tenant.status_code == 400
    (row,) = thrifty.ledger.rows()  # the accepted one (the simulator answers at once)
    assert row.status == 200 and row.endpoint == "batch"  # refused requests are not booked


async def test_deferred_requests_finish_with_nobody_polling(tmp_path: Path) -> None:
    """The gateway follows its queue in the background: a job that is still running when
    the request is accepted is collected and booked without a single GET of the result
    URL, which then answers at once."""
    async with SimServer(SimConfig(batch_duration_s=0.5)) as sim:
        thrifty = Thrifty(settings_for(sim, tmp_path), environ={})
        server = await start_server(create_app(thrifty))
        try:
            base = server.url + "/v1"
            async with openai.AsyncOpenAI(base_url=base, api_key="app", max_retries=0) as sdk:
                raw = await sdk.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "whenever"}],
                    extra_headers=DEFER,
                )
            assert raw.status_code == 202
            assert thrifty.ledger.rows() == []  # its job is still running
            for _ in range(200):  # at most 10 s
                if thrifty.ledger.rows():
                    break
                await asyncio.sleep(0.05)
            (row,) = thrifty.ledger.rows()
            assert row.endpoint == "batch" and row.calls[0].call.batch
            async with httpx.AsyncClient(base_url=server.url) as http:
                answer = await http.get(
                    raw.http_response.json()["result_url"],
                    headers={"authorization": "Bearer app"},
                )
            assert answer.status_code == 200
        finally:
            await server.stop()
