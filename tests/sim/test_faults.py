"""Fault injection through headers, prompt markers and the admin queue."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anthropic
import httpx
import openai
import pytest

from thrifty.sim import SimServer

OPENAI_BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC_BODY = {
    "model": "claude-haiku-4-5",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.mark.parametrize(
    ("fault", "exc"),
    [
        ("429", openai.RateLimitError),
        ("500", openai.InternalServerError),
        ("503", openai.InternalServerError),
        ("529", openai.InternalServerError),
    ],
)
async def test_openai_status_faults_by_header(
    oai: openai.AsyncOpenAI, fault: str, exc: type[openai.APIStatusError]
) -> None:
    with pytest.raises(exc) as info:
        await oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": fault},
        )
    assert info.value.status_code == int(fault)
    assert isinstance(info.value.body, dict) and "message" in info.value.body
    if fault == "429":
        assert info.value.response.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("fault", "exc", "kind"),
    [
        ("429", anthropic.RateLimitError, "rate_limit_error"),
        ("500", anthropic.InternalServerError, "api_error"),
        ("503", anthropic.InternalServerError, "api_error"),
        ("529", anthropic.OverloadedError, "overloaded_error"),
    ],
)
async def test_anthropic_status_faults_by_marker(
    ant: anthropic.AsyncAnthropic, fault: str, exc: type[anthropic.APIStatusError], kind: str
) -> None:
    with pytest.raises(exc) as info:
        await ant.messages.create(
            model="claude-haiku-4-5",
            max_tokens=10,
            messages=[{"role": "user", "content": f"please fail [[sim:fault={fault}]]"}],
        )
    assert info.value.status_code == int(fault)
    body = info.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error" and body["error"]["type"] == kind


async def test_queued_faults_and_stats(http: httpx.AsyncClient) -> None:
    resp = await http.post("/_sim/faults", json={"fault": "503", "count": 2})
    assert resp.json() == {"pending": ["503", "503"]}
    statuses = [(await http.post("/v1/chat/completions", json=OPENAI_BODY)).status_code]
    statuses.append((await http.post("/v1/messages", json=ANTHROPIC_BODY)).status_code)
    statuses.append((await http.post("/v1/chat/completions", json=OPENAI_BODY)).status_code)
    assert statuses == [503, 503, 200]
    await http.post("/_sim/faults", json={"fault": "429", "count": 5})
    assert (await http.delete("/_sim/faults")).json() == {"pending": []}
    assert (await http.post("/v1/messages", json=ANTHROPIC_BODY)).status_code == 200
    stats = (await http.get("/_sim/stats")).json()
    assert stats["requests"] == 4
    assert stats["by_route"] == {"/v1/chat/completions": 2, "/v1/messages": 2}
    assert stats["by_status"] == {"503": 2, "200": 2}
    assert (await http.post("/_sim/faults", json={"fault": "nope"})).status_code == 400
    await http.delete("/_sim/stats")
    assert (await http.get("/_sim/stats")).json()["requests"] == 0


async def test_unknown_header_fault_is_400(http: httpx.AsyncClient) -> None:
    resp = await http.post("/v1/messages", json=ANTHROPIC_BODY, headers={"x-sim-fault": "boom"})
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


async def test_latency_header_and_marker(http: httpx.AsyncClient) -> None:
    start = time.perf_counter()
    resp = await http.post(
        "/v1/chat/completions", json=OPENAI_BODY, headers={"x-sim-latency-ms": "150"}
    )
    assert resp.status_code == 200
    assert time.perf_counter() - start >= 0.15
    body = {**ANTHROPIC_BODY, "messages": [{"role": "user", "content": "x [[sim:latency=120]]"}]}
    start = time.perf_counter()
    assert (await http.post("/v1/messages", json=body)).status_code == 200
    assert time.perf_counter() - start >= 0.12


async def test_slow_adds_two_seconds(http: httpx.AsyncClient) -> None:
    start = time.perf_counter()
    resp = await http.post(
        "/v1/chat/completions", json=OPENAI_BODY, headers={"x-sim-fault": "slow"}
    )
    assert resp.status_code == 200
    assert time.perf_counter() - start >= 2.0


@pytest.fixture
async def loop_oai(server: SimServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def loop_ant(server: SimServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="k", max_retries=0)
    yield client
    await client.close()


async def test_cut_openai_stream_and_body(loop_oai: openai.AsyncOpenAI) -> None:
    stream = await loop_oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "long answer [[sim:fault=cut]]"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = []
    with pytest.raises((openai.APIConnectionError, httpx.RemoteProtocolError)):
        async for chunk in stream:
            chunks.append(chunk)
    assert chunks and all(c.usage is None for c in chunks)
    with pytest.raises(openai.APIConnectionError):
        await loop_oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": "cut"},
        )
    # The server is still healthy afterwards.
    ok = await loop_oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert ok.choices[0].finish_reason == "stop"


async def test_cut_anthropic_stream(loop_ant: anthropic.AsyncAnthropic) -> None:
    seen: list[str] = []
    with pytest.raises(Exception) as info:
        async with loop_ant.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=[{"role": "user", "content": "tell me [[sim:fault=cut]]"}],
        ) as stream:
            async for event in stream:
                seen.append(event.type)
    assert isinstance(info.value, anthropic.APIConnectionError) or (
        "RemoteProtocolError" in type(info.value).__name__
    )
    assert "message_start" in seen and "message_stop" not in seen


async def test_timeout_fault_times_out_client(server: SimServer) -> None:
    async with openai.AsyncOpenAI(
        base_url=server.openai_base_url, api_key="k", max_retries=0, timeout=0.3
    ) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-sim-fault": "timeout"},
            )
    # Server shutdown (fixture teardown) must not wait the 60 s out.


def test_the_fault_type_names_every_fault_the_simulator_takes() -> None:
    from typing import get_args

    from thrifty.sim.faults import FAULT_KINDS, FaultKind

    assert set(get_args(FaultKind)) == FAULT_KINDS
