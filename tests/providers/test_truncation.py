"""``ChatResponse.truncated``: each provider reads from the upstream's own answer whether it
was cut by its length limit (OpenAI ``finish_reason: "length"`` on any choice, Anthropic
``stop_reason: "max_tokens"``, Responses ``incomplete`` for ``max_output_tokens``), whole
or streamed, same dialect or translated; first against scripted wire payloads, then
against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from thrifty.config import ProviderSettings
from thrifty.providers import HttpPool, build_provider
from thrifty.providers.finish import truncated_answer
from thrifty.sim import SimConfig, SimServer
from thrifty.types import Api, ChatRequest, ChatResponse, Dialect

from .fake_upstream import (
    KEY,
    FakeUpstream,
    Script,
    anthropic_request,
    anthropic_settings,
    drain,
    openai_request,
    openai_settings,
)
from .wire_payloads import (
    ANTHROPIC_CACHED_MESSAGE,
    ANTHROPIC_STREAM_EVENTS,
    OPENAI_STREAM_CHUNKS,
    anthropic_sse,
    openai_chunk,
    openai_sse,
)


async def call(
    upstream: FakeUpstream, pool: HttpPool, provider_dialect: Dialect, request: ChatRequest
) -> ChatResponse:
    settings = (
        openai_settings(upstream.url)
        if provider_dialect == "openai"
        else anthropic_settings(upstream.url)
    )
    provider = build_provider("p", settings, pool, api_key=KEY)
    response = await provider(request)
    if response.stream is not None:
        await drain(response)
        assert response.stream_complete
    return response


# -- OpenAI chat and legacy completions ----------------------------------------------


def chat_body(*finishes: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": "x"}, "finish_reason": f}
            for i, f in enumerate(finishes)
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


@pytest.mark.parametrize(
    ("finishes", "cut"),
    [
        (("length",), True),
        (("stop", "length"), True),
        (("stop", "stop"), False),
        (("tool_calls",), False),
    ],
)
async def test_an_openai_answer_is_cut_when_any_choice_is(
    upstream: FakeUpstream, pool: HttpPool, finishes: tuple[str, ...], cut: bool
) -> None:
    upstream.add(Script(body=chat_body(*finishes)))
    response = await call(upstream, pool, "openai", openai_request())
    assert response.truncated is cut


def cut_chunks() -> list[dict[str, Any] | None]:
    """The documented stream, its closing chunk saying ``length``; a text delta that
    quotes the word does not count (its quotes are escaped in the JSON)."""
    chunks = list(OPENAI_STREAM_CHUNKS)
    chunks[2] = openai_chunk({"content": 'say "length"'})
    chunks[3] = openai_chunk({}, "length")
    return chunks


@pytest.mark.parametrize("app", ["openai", "anthropic"])
async def test_an_openai_stream_is_cut_when_its_closing_chunk_says_length(
    upstream: FakeUpstream, pool: HttpPool, app: Dialect
) -> None:
    request = openai_request(stream=True) if app == "openai" else anthropic_request(stream=True)
    upstream.add(Script(chunks=[openai_sse(cut_chunks())]))
    assert (await call(upstream, pool, "openai", request)).truncated
    quoted_only = cut_chunks()
    quoted_only[3] = openai_chunk({}, "stop")
    upstream.add(Script(chunks=[openai_sse(quoted_only)]))
    assert not (await call(upstream, pool, "openai", request)).truncated


async def test_an_openai_answer_translated_for_an_anthropic_app_keeps_the_fact(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(body=chat_body("length")))
    response = await call(upstream, pool, "openai", anthropic_request())
    assert response.truncated
    assert response.body is not None and response.body["stop_reason"] == "max_tokens"


def api_request(api: Api, model: str, stream: bool = False, **body: Any) -> ChatRequest:
    """A Responses or legacy completions request (``body`` as the app wrote it)."""
    if stream:
        body["stream"] = True
    return ChatRequest(
        dialect="openai", body=body, model=model, requested_model=model, stream=stream, api=api
    )


def completions_request(stream: bool = False) -> ChatRequest:
    return api_request("completions", "gpt-3.5-turbo-instruct", stream, prompt="Once")


async def test_a_legacy_completion_is_cut_like_a_chat_answer(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    body = {
        "id": "cmpl-1",
        "object": "text_completion",
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"text": " upon", "index": 0, "logprobs": None, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 16, "total_tokens": 17},
    }
    upstream.add(Script(body=body))
    assert (await call(upstream, pool, "openai", completions_request())).truncated
    head = {"id": "cmpl-1", "object": "text_completion", "model": "gpt-3.5-turbo-instruct"}
    chunks: list[dict[str, Any] | None] = [
        {**head, "choices": [{"text": " upon", "index": 0, "finish_reason": None}]},
        {**head, "choices": [{"text": "", "index": 0, "finish_reason": "length"}]},
        {**head, "choices": [], "usage": body["usage"]},
        None,
    ]
    upstream.add(Script(chunks=[openai_sse(chunks)]))
    assert (await call(upstream, pool, "openai", completions_request(stream=True))).truncated


# -- Anthropic -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop", "cut"),
    [
        ("max_tokens", True),
        ("model_context_window_exceeded", True),
        ("end_turn", False),
        ("stop_sequence", False),
    ],
)
@pytest.mark.parametrize("app", ["anthropic", "openai"])
async def test_an_anthropic_answer_is_cut_by_max_tokens(
    upstream: FakeUpstream, pool: HttpPool, stop: str, cut: bool, app: Dialect
) -> None:
    upstream.add(Script(body={**ANTHROPIC_CACHED_MESSAGE, "stop_reason": stop}))
    request = anthropic_request() if app == "anthropic" else openai_request()
    response = await call(upstream, pool, "anthropic", request)
    assert response.truncated is cut
    if app == "openai" and cut and stop == "max_tokens":
        assert response.body is not None
        assert response.body["choices"][0]["finish_reason"] == "length"


def anthropic_events(stop: str) -> list[dict[str, Any]]:
    events = [dict(e) for e in ANTHROPIC_STREAM_EVENTS]
    events[-2] = {**events[-2], "delta": {"stop_reason": stop, "stop_sequence": None}}
    return events


@pytest.mark.parametrize("app", ["anthropic", "openai"])
async def test_an_anthropic_stream_is_cut_when_its_message_delta_says_so(
    upstream: FakeUpstream, pool: HttpPool, app: Dialect
) -> None:
    request = anthropic_request(stream=True) if app == "anthropic" else openai_request(stream=True)
    upstream.add(Script(chunks=[anthropic_sse(anthropic_events("max_tokens"))]))
    assert (await call(upstream, pool, "anthropic", request)).truncated
    upstream.add(Script(chunks=[anthropic_sse(anthropic_events("end_turn"))]))
    assert not (await call(upstream, pool, "anthropic", request)).truncated


# -- the Responses API ---------------------------------------------------------------


def responses_request(stream: bool = False) -> ChatRequest:
    return api_request("responses", "gpt-4o-mini", stream, input="hi", max_output_tokens=16)


def response_object(status: str, reason: str | None) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-4o-mini",
        "status": status,
        "incomplete_details": None if reason is None else {"reason": reason},
        "output": [],
        "usage": {"input_tokens": 5, "output_tokens": 16, "total_tokens": 21},
    }


def responses_event(kind: str, response: dict[str, Any]) -> bytes:
    payload = orjson.dumps({"type": kind, "response": response})
    return b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n"


RESPONSE_ENDINGS = [
    ("incomplete", "max_output_tokens", True),
    ("incomplete", "content_filter", False),  # incomplete, but not by its length
    ("completed", None, False),
]


@pytest.mark.parametrize(("status", "reason", "cut"), RESPONSE_ENDINGS)
async def test_a_responses_answer_is_cut_when_incomplete_for_max_output_tokens(
    upstream: FakeUpstream, pool: HttpPool, status: str, reason: str | None, cut: bool
) -> None:
    upstream.add(Script(body=response_object(status, reason)))
    assert (await call(upstream, pool, "openai", responses_request())).truncated is cut
    ending = response_object(status, reason)
    created = responses_event("response.created", {**ending, "status": "in_progress"})
    final = responses_event(f"response.{status}", ending)
    upstream.add(Script(chunks=[created, final]))
    streamed = await call(upstream, pool, "openai", responses_request(stream=True))
    assert streamed.truncated is cut


def test_truncated_answer_reads_nothing_into_odd_bodies() -> None:
    apis: list[tuple[Dialect, Api]] = [("openai", "chat"), ("anthropic", "chat")]
    apis += [("openai", "responses"), ("openai", "embeddings")]
    for dialect, api in apis:
        for body in (None, [], {}, {"choices": "length"}, {"incomplete_details": "x"}):
            assert not truncated_answer(dialect, api, body)
    assert not truncated_answer(
        "openai", "responses", {"status": "incomplete", "incomplete_details": None}
    )


# -- the simulator, over the wire ----------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig()) as server:
        yield server


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("provider_dialect", "app"),
    [
        ("openai", "openai"),
        ("anthropic", "anthropic"),
        ("anthropic", "openai"),
        ("openai", "anthropic"),
    ],
)
async def test_a_tight_limit_at_the_simulator_is_a_truncated_answer(
    sim: SimServer, pool: HttpPool, stream: bool, provider_dialect: Dialect, app: Dialect
) -> None:
    base = sim.openai_base_url if provider_dialect == "openai" else sim.base_url
    settings = ProviderSettings(dialect=provider_dialect, base_url=base)
    provider = build_provider("sim", settings, pool, api_key=KEY)
    ask = "Tell me about the weather in Paris in spring, at length."
    for limit, cut in ((2, True), (400, False)):
        body: dict[str, Any] = {"messages": [{"role": "user", "content": ask}], "max_tokens": limit}
        model = "gpt-4o-mini" if provider_dialect == "openai" else "claude-haiku-4-5"
        request = ChatRequest(
            dialect=app, body=body, model=model, requested_model=model, stream=stream
        )
        response = await provider(request)
        if stream:
            await drain(response)
        assert response.truncated is cut, (limit, stream)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_capped_responses_call_at_the_simulator_is_truncated(
    sim: SimServer, pool: HttpPool, stream: bool
) -> None:
    settings = ProviderSettings(dialect="openai", base_url=sim.openai_base_url)
    provider = build_provider("sim", settings, pool, api_key=KEY)
    ask = "Tell me about the weather in Paris in spring, at length, with many details."
    for limit, cut in ((16, True), (2000, False)):
        request = api_request(
            "responses", "gpt-4o-mini", stream, input=ask, max_output_tokens=limit
        )
        response = await provider(request)
        if stream:
            await drain(response)
        assert response.truncated is cut, (limit, stream)
