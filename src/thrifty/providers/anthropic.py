"""Anthropic messages API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

from thrifty.dialects import (
    AnthropicToOpenAIStream,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
)
from thrifty.providers.base import BaseProvider, StreamHandler
from thrifty.providers.estimate import estimate_output_tokens, estimate_prompt_tokens
from thrifty.providers.finish import anthropic_delta_cut
from thrifty.providers.openai_compat import wants_usage_chunk
from thrifty.providers.streaming import each_event
from thrifty.providers.usage import (
    AnthropicStreamUsage,
    server_tools_from_anthropic,
    service_tier,
    usage_from_anthropic,
)
from thrifty.types import (
    JSON,
    ChatRequest,
    ChatResponse,
    Dialect,
    MalformedEvent,
    StreamEvent,
    Usage,
)

__all__ = ["ANTHROPIC_VERSION", "AnthropicProvider"]

ANTHROPIC_VERSION = "2023-06-01"


# Events that carry neither usage, nor the end, nor an error.
_PASS_THROUGH = frozenset({"content_block_stop", "ping"})


class _AnthropicStream:
    __slots__ = (
        "_delta_bytes",
        "_deltas",
        "_last_delta",
        "_prompt",
        "_provider",
        "_response",
        "_settled",
        "_tool_starts",
        "_translator",
        "_usage",
        "complete",
    )
    strip_fragment: bytes | None = None

    def __init__(
        self,
        provider: AnthropicProvider,
        response: ChatResponse,
        translator: AnthropicToOpenAIStream | None,
        prompt: JSON,
    ) -> None:
        self.complete = False
        self._provider = provider
        self._response = response
        self._usage = AnthropicStreamUsage()
        self._translator = translator
        self._prompt = prompt  # the request body, for an estimate if message_start never came
        # Tally of content_block_delta events (count, raw bytes, the last one): what an
        # estimate of the output needs if the stream ends before message_delta.
        self._deltas = 0
        self._delta_bytes = 0
        self._last_delta: StreamEvent | None = None
        self._tool_starts: dict[str, int] = {}
        self._settled = False

    def on_event(self, event: StreamEvent) -> list[StreamEvent] | tuple[StreamEvent, ...]:
        name = event.event
        if name == "content_block_delta":
            self._deltas += 1
            self._delta_bytes += len(event.raw)
            self._last_delta = event
            if self._translator is None:
                return (event,)  # text deltas: no need to parse them
        elif name == "content_block_start":
            if event.raw.find(b'"server_tool_use"') >= 0:  # (not ``in``: see sse.SSEParser)
                self._server_tool_started(event)
            if self._translator is None:
                return (event,)
        elif self._translator is None:
            if name in _PASS_THROUGH:
                return (event,)
            if name == "message_stop":
                self._stop()
                return (event,)
        data = event.data
        if data is None:
            return ()
        kind = data.get("type", name)
        response = self._response
        if kind == "message_stop":
            self._stop()
        elif kind == "message_start" or kind == "message_delta":
            usage = self._usage
            if usage.feed(data):
                response.usage = usage.usage
                # message_start's output count is a placeholder: the usage is reported
                # only with message_delta's cumulative count (else settle() estimates it).
                response.usage_reported = usage.final
                response.service_tier = usage.service_tier
                if usage.final:
                    response.server_tools = usage.server_tools
            if kind == "message_delta" and anthropic_delta_cut(data):
                response.truncated = True
            if kind == "message_start":
                message = data.get("message")
                model = message.get("model") if isinstance(message, Mapping) else None
                if isinstance(model, str) and model:
                    response.model = model
        elif kind == "error":
            raise self._provider.stream_error(data)
        if self._translator is not None:
            return self._translator.feed(data, response.usage)
        return (event,)

    def on_events(self, events: list[StreamEvent], out: list[StreamEvent]) -> None:
        """:meth:`on_event` for each of one read's events, in one call: the text deltas,
        block ends and pings of a stream passed on as it came go straight to ``out``
        (the deltas tallied for an estimate), the others through :meth:`on_event`.  A
        translated stream has every event through :meth:`on_event`."""
        if self._translator is not None:
            each_event(self, events, out)
            return
        append = out.append
        for event in events:
            if self.complete:
                return  # nothing after the terminal event reaches the app
            name = event.event
            if name == "content_block_delta":
                self._deltas += 1
                self._delta_bytes += len(event.raw)
                self._last_delta = event
                append(event)
            elif name in _PASS_THROUGH:
                append(event)
            else:
                out.extend(self.on_event(event))

    def _stop(self) -> None:
        self.complete = True
        if not self._usage.final:
            self.settle()  # no message_delta usage: settled before the stream counts as done
        self._response.stream_complete = True

    def _server_tool_started(self, event: StreamEvent) -> None:
        try:
            data = event.data
        except MalformedEvent:
            return
        block = data.get("content_block") if data is not None else None
        if isinstance(block, Mapping) and block.get("type") == "server_tool_use":
            name = block.get("name")
            if isinstance(name, str) and name:
                self._tool_starts[name] = self._tool_starts.get(name, 0) + 1

    def settle(self) -> None:
        """Without message_delta's usage, book the input message_start reported (or an
        estimate from the request) and an estimate of the output seen, as an estimate."""
        if self._settled:
            return
        self._settled = True
        usage = self._usage
        if usage.final:
            return
        response = self._response
        output = estimate_output_tokens(self._deltas, self._delta_bytes, self._last_delta)
        if usage.started:
            start = usage.usage
            response.usage = replace(start, output_tokens=max(start.output_tokens, output))
        else:
            response.usage = Usage(
                input_tokens=estimate_prompt_tokens(self._prompt), output_tokens=output
            )
        response.usage_reported = True
        response.usage_estimated = True
        if self._tool_starts:
            # Server tool calls the stream showed starting: each one was requested.
            response.server_tools = dict(self._tool_starts)


class AnthropicProvider(BaseProvider):
    dialect: ClassVar[Dialect] = "anthropic"
    path: ClassVar[str] = "/v1/messages"

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def _prepare(self, request: ChatRequest, translate: bool) -> JSON:
        body = openai_to_anthropic_request(request.body) if translate else dict(request.body)
        body["model"] = request.model
        if request.stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
        return body

    def _usage(self, body: JSON, request: ChatRequest) -> Usage:
        usage = body.get("usage")
        return usage_from_anthropic(usage) if isinstance(usage, Mapping) else Usage()

    def _translate_response(self, body: JSON, usage: Usage, request: ChatRequest) -> JSON:
        return anthropic_to_openai_response(body, usage, model=request.model)

    def _billing(
        self, body: JSON, request: ChatRequest, model: str
    ) -> tuple[str | None, dict[str, int]]:
        usage = body.get("usage")
        if not isinstance(usage, Mapping):
            return None, {}
        return service_tier(usage.get("service_tier")), server_tools_from_anthropic(usage)

    def _stream_handler(
        self, request: ChatRequest, response: ChatResponse, translate: bool
    ) -> StreamHandler:
        translator = (
            AnthropicToOpenAIStream(
                model=request.model, include_usage=wants_usage_chunk(request.body)
            )
            if translate
            else None
        )
        return _AnthropicStream(self, response, translator, request.body)
