"""OpenAI-compatible APIs: OpenAI itself, and local or hosted servers that speak its
protocol (vLLM, llama.cpp, Ollama, LM Studio, OpenRouter...).

Chat completions are the main path; the Responses API, embeddings and legacy completions
(``ChatRequest.api``) are sent as the app wrote them to their own paths, with usage read
in their own shapes (:mod:`thrifty.providers.usage`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from thrifty.dialects import (
    OpenAIToAnthropicStream,
    anthropic_to_openai_request,
    openai_to_anthropic_response,
)
from thrifty.dialects._common import openai_sse
from thrifty.providers.base import BaseProvider, StreamHandler
from thrifty.providers.estimate import DeltaTally, estimate_prompt_tokens
from thrifty.providers.finish import OPENAI_CUT_MARK, openai_chunk_cut
from thrifty.providers.responses_stream import ResponsesStream
from thrifty.providers.sse import read_marks
from thrifty.providers.streaming import each_event
from thrifty.providers.usage import (
    OpenAIStreamUsage,
    openai_server_tools,
    responses_server_tools,
    service_tier,
    usage_from_openai,
    usage_from_responses,
)
from thrifty.types import JSON, Api, ChatRequest, ChatResponse, Dialect, StreamEvent, Usage

__all__ = ["OpenAIProvider"]

_NO_EVENTS: tuple[StreamEvent, ...] = ()
# Where each API operation is served, under the provider's base URL.
API_PATHS: dict[Api, str] = {
    "chat": "/chat/completions",
    "responses": "/responses",
    "embeddings": "/embeddings",
    "completions": "/completions",
}
# Operations whose streams take ``stream_options.include_usage`` (the Responses API always
# reports usage in its terminal event; embeddings do not stream).
_USAGE_OPTION_APIS = frozenset({"chat", "completions"})


def wants_usage_chunk(body: Mapping[str, object]) -> bool:
    """Did the app itself ask for the usage-only final chunk?"""
    options = body.get("stream_options")
    return isinstance(options, Mapping) and options.get("include_usage") is True


_NULL_USAGE = b',"usage":null'


def _without_null_usage(event: StreamEvent) -> StreamEvent:
    """``event`` without the ``"usage": null`` key that the upstream adds to every chunk
    once usage is requested: thrifty always requests it, and an app that did not must see
    the chunks OpenAI would send it (no ``usage`` key)."""
    edited = event.without(_NULL_USAGE)
    if edited is event and event.data is not None and "usage" in event.data:
        data = dict(event.data)  # another spelling of the key: re-serialise
        del data["usage"]
        return openai_sse(data)
    return edited


def _plain_delta(raw: bytes) -> bool:
    """True when a chunk can carry no usage (``"usage": null`` is common), no error and is
    not ``[DONE]``: such a chunk is forwarded without being parsed."""
    # ``bytes.find``, not ``in``: see :class:`thrifty.providers.sse.SSEParser`.
    if raw.find(b"[DONE]") >= 0 or raw.find(b'"error"') >= 0:
        return False
    return (
        raw.find(b'"usage"') < 0
        or raw.find(b'"usage":null') >= 0
        or raw.find(b'"usage": null') >= 0
    )


# What a chunk holds when it is more than a plain delta (:func:`_plain_delta`, and a
# choice cut by its length): searched in all the events of a read at once.
_FACT_MARKS = (b"[DONE]", b'"error"', b'"usage"', OPENAI_CUT_MARK)


class _OpenAIStream:
    __slots__ = (
        "_deltas",
        "_forward_usage",
        "_model_seen",
        "_prompt",
        "_provider",
        "_response",
        "_settled",
        "_text_first",
        "_translator",
        "_usage",
        "complete",
        "strip_fragment",
    )

    def __init__(
        self,
        provider: OpenAIProvider,
        response: ChatResponse,
        *,
        forward_usage: bool,
        translator: OpenAIToAnthropicStream | None,
        prompt: JSON,
        text_first: bool = False,
    ) -> None:
        self.complete = False
        self._provider = provider
        self._response = response
        self._usage = OpenAIStreamUsage()
        self._forward_usage = forward_usage
        self._translator = translator
        # thrifty asked for usage, not the app: the ``"usage":null`` the upstream then adds
        # to every chunk is removed by the parser, once per read (the chunks OpenAI would
        # send the app have no ``usage`` key).  A translated stream is parsed anyway.
        self.strip_fragment = _NULL_USAGE if not forward_usage and translator is None else None
        self._model_seen = False
        # A legacy completion's first chunk carries text (a chat stream's, only the role).
        self._text_first = text_first
        self._prompt = prompt  # the request body, for an estimate if usage never comes
        # Tally of delta chunks (count, raw bytes, the last one): what an estimate of the
        # output needs if the stream ends before its usage chunk.
        self._deltas = DeltaTally()
        self._settled = False

    def on_event(self, event: StreamEvent) -> list[StreamEvent] | tuple[StreamEvent, ...]:
        if openai_chunk_cut(event):  # a byte search; only a chunk that may say so is parsed
            self._response.truncated = True
        if self._model_seen and self._translator is None and _plain_delta(event.raw):
            self._deltas.add(event)
            return (event,)  # a plain delta: passed through without parsing it
        data = event.data
        response = self._response
        if data is None:  # [DONE]
            if not self._usage.seen and self._provider.settings.local:
                # A local server that does not count (llama-cpp-python ignores
                # include_usage) is $0 whatever the count: an estimate cannot misprice the
                # call, and keeps its row priced.  Booked before the final batch goes on.
                self._deltas.book(response, self._prompt)
            self.complete = True
            response.stream_complete = True
            if self._translator is not None:
                return self._translator.feed(None, response.usage)
            return (event,)
        if "error" in data and not data.get("choices"):
            raise self._provider.stream_error(data)
        usage = self._usage
        if usage.feed(data):
            response.usage = usage.usage
            response.usage_reported = True
        response.service_tier = usage.service_tier
        counted = self._model_seen or self._text_first
        if not self._model_seen:
            self._model_seen = True
            model = data.get("model")
            if isinstance(model, str) and model:
                response.model = model
        if counted and data.get("choices"):  # a delta chunk that had to be parsed
            self._deltas.add(event)
        if self._translator is not None:
            return self._translator.feed(data, response.usage)
        if not self._forward_usage:
            if data.get("choices") == [] and "usage" in data:
                return _NO_EVENTS  # we asked for it; the app did not
            if "usage" in data and data["usage"] is None:
                return (_without_null_usage(event),)
        return (event,)

    def on_events(self, events: list[StreamEvent], out: list[StreamEvent]) -> None:
        """:meth:`on_event` for each of one read's events, but those that hold none of
        ``_FACT_MARKS`` (plain deltas, once the model is known) are found with a few
        searches over the read and pass, a run at a time, without a look of their own.
        Only when the parser strips ``"usage":null``: otherwise every chunk holds
        ``"usage"``."""
        if self.strip_fragment is None:
            each_event(self, events, out)
            return
        if self.complete:
            return  # nothing after the terminal event reaches the app
        marks = read_marks(events, _FACT_MARKS)
        looked_at = marks.marked
        if not self._model_seen and (not looked_at or looked_at[0] != 0):
            looked_at.insert(0, 0)  # the first chunk names the model
        start, stop = 0, len(events)
        for index in looked_at:
            if index >= stop:
                break
            if index > start:
                self._pass_plain(events[start:index], marks.raw_bytes(start, index), out)
            out.extend(self.on_event(events[index]))
            if self.complete:
                return  # nothing after the terminal event reaches the app
            start = index + 1
        if start < stop:
            self._pass_plain(events[start:], marks.raw_bytes(start, stop), out)

    def _pass_plain(self, run: list[StreamEvent], raw_bytes: int, out: list[StreamEvent]) -> None:
        """A run of plain deltas: tallied for an estimate, and on to the app as they are."""
        self._deltas.add_run(run, raw_bytes)
        out.extend(run)

    def settle(self) -> None:
        """Without the usage chunk (and before ``[DONE]``), book an estimate: the prompt
        from the request text, the output from the deltas seen.  A stream that reached
        ``[DONE]`` without usage (a server that ignores ``include_usage``) stays
        unreported: nothing was cut, the server just does not count (a local server's
        was estimated at ``[DONE]``)."""
        if self._settled:
            return
        self._settled = True
        if self._usage.seen or self.complete:
            return
        self._deltas.book(self._response, self._prompt)


class OpenAIProvider(BaseProvider):
    dialect: ClassVar[Dialect] = "openai"
    path: ClassVar[str] = API_PATHS["chat"]

    def _url_for(self, request: ChatRequest) -> str:
        return self._url if request.api == "chat" else self._base_url + API_PATHS[request.api]

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _prepare(self, request: ChatRequest, translate: bool) -> JSON:
        if translate:
            # Local servers tend to know only the older max_tokens.
            field = "max_tokens" if self.settings.local else "max_completion_tokens"
            body = anthropic_to_openai_request(request.body, max_tokens_field=field)
        else:
            body = dict(request.body)
        body["model"] = request.model
        if request.stream:
            body["stream"] = True
            if request.api not in _USAGE_OPTION_APIS:
                return body
            options = body.get("stream_options")
            # Always ask for usage, so every streamed call can be priced.
            body["stream_options"] = (
                {**options, "include_usage": True}
                if isinstance(options, dict)
                else {"include_usage": True}
            )
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)  # OpenAI rejects it without stream
        return body

    def _usage(self, body: JSON, request: ChatRequest) -> Usage:
        usage = body.get("usage")
        if not isinstance(usage, Mapping):
            return Usage()
        return (
            usage_from_responses(usage) if request.api == "responses" else usage_from_openai(usage)
        )

    def _translate_response(self, body: JSON, usage: Usage, request: ChatRequest) -> JSON:
        return openai_to_anthropic_response(body, usage, model=request.model)

    def _billing(
        self, body: JSON, request: ChatRequest, model: str
    ) -> tuple[str | None, dict[str, int]]:
        tier = service_tier(body.get("service_tier"))
        if request.api == "responses":
            return tier, responses_server_tools(body.get("output"))
        if request.api != "chat":
            return tier, {}
        return tier, openai_server_tools(model, request.model)

    def _stream_handler(
        self, request: ChatRequest, response: ChatResponse, translate: bool
    ) -> StreamHandler:
        if request.api == "responses":
            return ResponsesStream(self, response, request.body)
        if request.api == "chat":
            # A search model searched before it answered: billed once the stream started.
            response.server_tools = openai_server_tools(request.model)
        return _OpenAIStream(
            self,
            response,
            forward_usage=wants_usage_chunk(request.body),
            translator=(
                OpenAIToAnthropicStream(
                    model=request.model, input_estimate=estimate_prompt_tokens(request.body)
                )
                if translate
                else None
            ),
            prompt=request.body,
            text_first=request.api == "completions",
        )
