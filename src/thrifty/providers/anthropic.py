"""Anthropic messages API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from thrifty.dialects import (
    AnthropicToOpenAIStream,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
)
from thrifty.providers.base import BaseProvider, StreamHandler
from thrifty.providers.openai_compat import wants_usage_chunk
from thrifty.providers.usage import AnthropicStreamUsage, usage_from_anthropic
from thrifty.types import JSON, ChatRequest, ChatResponse, Dialect, StreamEvent, Usage

__all__ = ["ANTHROPIC_VERSION", "AnthropicProvider"]

ANTHROPIC_VERSION = "2023-06-01"


# Events that carry neither usage, nor the end, nor an error.
_PASS_THROUGH = frozenset(
    {"content_block_delta", "content_block_start", "content_block_stop", "ping"}
)


class _AnthropicStream:
    __slots__ = ("_provider", "_response", "_translator", "_usage", "complete")

    def __init__(
        self,
        provider: AnthropicProvider,
        response: ChatResponse,
        translator: AnthropicToOpenAIStream | None,
    ) -> None:
        self.complete = False
        self._provider = provider
        self._response = response
        self._usage = AnthropicStreamUsage()
        self._translator = translator

    def on_event(self, event: StreamEvent) -> list[StreamEvent] | tuple[StreamEvent, ...]:
        if self._translator is None and event.event in _PASS_THROUGH:
            return (event,)  # text deltas, pings, block boundaries: no need to parse them
        if event.event == "message_stop" and self._translator is None:
            self.complete = True
            self._response.stream_complete = True
            return (event,)
        data = event.data
        if data is None:
            return ()
        kind = data.get("type", event.event)
        response = self._response
        if kind == "message_stop":
            self.complete = True
            response.stream_complete = True
        elif kind == "message_start" or kind == "message_delta":
            if self._usage.feed(data):
                response.usage = self._usage.usage
                response.usage_reported = True
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

    def _usage(self, body: JSON) -> Usage:
        usage = body.get("usage")
        return usage_from_anthropic(usage) if isinstance(usage, Mapping) else Usage()

    def _translate_response(self, body: JSON, usage: Usage, request: ChatRequest) -> JSON:
        return anthropic_to_openai_response(body, usage, model=request.model)

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
        return _AnthropicStream(self, response, translator)
