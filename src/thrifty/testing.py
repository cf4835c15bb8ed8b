"""A test kit for levers: test a stage in isolation, with no provider and no network.

    from thrifty.testing import FakeUpstream, reply, request_for

    upstream = FakeUpstream(lambda req: reply(req, "hi", Usage(input_tokens=10, output_tokens=2)))
    handler = my_stage(upstream)
    response = await handler(request_for("gpt-4o", "hello"))
    assert upstream.requests[0].model == "gpt-4o-mini"

* :class:`FakeUpstream`: a function-backed innermost handler that records what it got;
* :func:`reply` / :func:`stream_reply`: answers in the request's wire dialect, with usage,
  marked as served by a provider (so the Accountant prices them like real calls);
* :func:`request_for`: a minimal :class:`~thrifty.types.ChatRequest` in either dialect;
* :func:`accountant`: an Accountant on the bundled price data, for booking checks;
* :func:`collect`: drain a streamed response into its events.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from thrifty.dialects._common import anthropic_usage, openai_usage
from thrifty.ledger.accounting import Accountant, UpstreamFacts
from thrifty.pricing import PriceBook
from thrifty.types import JSON, ChatRequest, ChatResponse, Dialect, StreamEvent, Usage

__all__ = [
    "FakeUpstream",
    "accountant",
    "collect",
    "reply",
    "request_for",
    "stream_reply",
]

Answer = Callable[[ChatRequest], ChatResponse | Awaitable[ChatResponse]]
DEFAULT_PROVIDERS: Mapping[str, UpstreamFacts] = {
    "openai": ("openai", False),
    "anthropic": ("anthropic", False),
    "local": (None, True),
}


def request_for(
    model: str,
    text: str = "hello",
    *,
    dialect: Dialect = "openai",
    stream: bool = False,
    task: str | None = None,
    tenant: str | None = None,
    **body: Any,
) -> ChatRequest:
    """A request for ``model`` with one user message; extra keyword arguments go into the
    wire body (``max_tokens=100``, ``temperature=0``...)."""
    wire: JSON = {"model": model, "messages": [{"role": "user", "content": text}], **body}
    if dialect == "anthropic":
        wire.setdefault("max_tokens", 1024)
    if stream:
        wire["stream"] = True
    return ChatRequest(
        dialect=dialect,
        body=wire,
        model=model,
        requested_model=model,
        stream=stream,
        task=task,
        tenant=tenant,
    )


def _provider_of(model: str) -> str:
    return "anthropic" if model.startswith("claude") else "openai"


def _body(request: ChatRequest, text: str, usage: Usage, model: str, *, cut: bool = False) -> JSON:
    """The answer's body; ``cut``: it ends by its length limit."""
    if request.dialect == "anthropic":
        return {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "max_tokens" if cut else "end_turn",
            "stop_sequence": None,
            "usage": anthropic_usage(usage),
        }
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length" if cut else "stop",
                "logprobs": None,
            }
        ],
        "usage": openai_usage(usage),
    }


def reply(
    request: ChatRequest,
    text: str = "ok",
    usage: Usage | None = None,
    *,
    model: str | None = None,
    provider: str | None = None,
    **facts: Any,
) -> ChatResponse:
    """A complete answer to ``request`` from a provider.  ``facts`` set billing fields of
    the response (``service_tier="priority"``, ``batch=True``, ``server_tools={...}``);
    ``truncated=True`` makes an answer cut by its length limit (the body says so too)."""
    model = model or request.model
    usage = usage if usage is not None else Usage(input_tokens=10, output_tokens=2)
    cut = bool(facts.get("truncated"))
    response = ChatResponse(
        dialect=request.dialect,
        model=model,
        provider=provider or _provider_of(model),
        usage=usage,
        body=_body(request, text, usage, model, cut=cut),
        served=request,
    )
    return dataclasses.replace(response, **facts) if facts else response


def stream_reply(
    request: ChatRequest,
    pieces: Sequence[str] = ("o", "k"),
    usage: Usage | None = None,
    *,
    model: str | None = None,
    provider: str | None = None,
    fail_after: int | None = None,
    **facts: Any,
) -> ChatResponse:
    """A streamed answer to ``request``, the text of ``pieces`` as the events the
    provider would send (built by :mod:`thrifty.streams.replay`), one batch per event; the
    final batch sets the usage and ``stream_complete`` as a provider does (and
    ``truncated``, when ``truncated=True`` made its last events say it was cut by its
    length limit).  ``fail_after=n`` raises :class:`~thrifty.errors.StreamInterrupted`
    after ``n`` batches instead."""
    from thrifty.errors import StreamInterrupted
    from thrifty.streams import anthropic_events, openai_events

    model = model or request.model
    usage = usage if usage is not None else Usage(input_tokens=10, output_tokens=len(pieces))
    response = ChatResponse(
        dialect=request.dialect,
        model=model,
        provider=provider or _provider_of(model),
        usage_reported=False,
        served=request,
    )
    cut = bool(facts.pop("truncated", False))
    if facts:
        response = dataclasses.replace(response, **facts)
    body = _body(request, "".join(pieces), usage, model, cut=cut)
    if request.dialect == "anthropic":
        wire = anthropic_events(body, usage)
    else:
        wire = openai_events(body, usage, include_usage=True)
    batches = [[event] for event in wire]

    async def events() -> AsyncIterator[Sequence[StreamEvent]]:
        for index, batch in enumerate(batches):
            if fail_after is not None and index >= fail_after:
                raise StreamInterrupted("the test upstream cut the stream", provider="fake")
            if index == len(batches) - 1:
                response.usage, response.usage_reported = usage, True
                response.truncated = cut
                response.stream_complete = True
            yield batch

    response.stream = events()
    return response


class FakeUpstream:
    """The innermost handler of a test pipeline: ``answer(request)`` decides the response
    (a plain or async function); every request it got is kept in ``requests``."""

    def __init__(self, answer: Answer | None = None) -> None:
        self._answer: Answer = answer or (lambda req: reply(req))
        self.requests: list[ChatRequest] = []

    async def __call__(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        result = self._answer(request)
        if inspect.isawaitable(result):
            return await result
        return result


def accountant(
    prices: PriceBook | None = None,
    providers: Mapping[str, UpstreamFacts] = DEFAULT_PROVIDERS,
) -> Accountant:
    """An Accountant on ``prices`` (default: the bundled data), with the providers
    ``openai``, ``anthropic`` (priced by genai-prices) and ``local`` ($0).  Models are
    mapped to a provider by name: ``claude-*`` -> anthropic, ``llama*``/``qwen*`` -> local,
    anything else -> openai."""

    def upstream_of(model: str) -> UpstreamFacts | None:
        if model.startswith("claude"):
            return providers.get("anthropic")
        if model.startswith(("llama", "qwen")):
            return providers.get("local")
        return providers.get("openai")

    return Accountant(prices or PriceBook(), upstream_of, providers.get)


async def collect(response: ChatResponse) -> list[StreamEvent]:
    """Every event of a streamed response, in order."""
    assert response.stream is not None, "not a streamed response"
    return [event async for batch in response.stream for event in batch]
