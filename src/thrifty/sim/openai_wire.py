"""OpenAI chat completions wire format: the dialect, its answers, SSE chunks and errors (the
request checks and the parts the other OpenAI operations share: :mod:`.openai_request`)."""

from __future__ import annotations

import hashlib
import time
import uuid

import orjson

from thrifty.sim.dialect import BadRequest, Caches, JSONObj, Prepared, PromptUsage, StreamParts
from thrifty.sim.logprobs import logprobs_content, wants_logprobs
from thrifty.sim.openai_request import (
    BAD_JSON,
    PRIMING_TOKENS,
    check_chat_body,
    content_text,
    is_search_model,
    json_setup,
    prompt_pieces,
    response_tier,
    tool_setup,
)
from thrifty.sim.output import Output, ToolCall, request_outputs
from thrifty.sim.tokens import Answer, TokenMemo

_FINGERPRINT = "fp_sim0000001"
_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 429: "requests"}
_FAULT_MESSAGES = {
    429: "Rate limit reached for requests (simulated). Please try again in 1s.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The server is overloaded or not ready yet.",
    529: "The server is overloaded (simulated 529).",
}
_FAULT_CODES = {429: "rate_limit_exceeded"}
_SIM_CITATION = {"url": "https://example.com/thrifty-sim", "title": "Simulated search result"}


def sse_data(payload: JSONObj) -> bytes:
    """One server-sent event carrying ``payload`` as JSON."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def stream_end(usage_chunk: JSONObj | None) -> list[bytes]:
    """An OpenAI stream's closing events: the usage chunk, when the request asked for it
    (``stream_options.include_usage``), then ``[DONE]``."""
    return [*([] if usage_chunk is None else [sse_data(usage_chunk)]), b"data: [DONE]\n\n"]


def _citations(text: str) -> list[JSONObj]:
    """One ``url_citation`` annotation over the whole answer (what a search model adds)."""
    return [
        {
            "type": "url_citation",
            "url_citation": {"start_index": 0, "end_index": len(text), **_SIM_CITATION},
        }
    ]


class OpenAIDialect:
    name = "openai"

    def __init__(self, memo: TokenMemo | None = None) -> None:
        self.memo = memo or TokenMemo()

    def prepare(self, body: object) -> Prepared:
        if not isinstance(body, dict):
            raise BadRequest(BAD_JSON)
        checked = check_chat_body(body)
        model, messages = checked.model, checked.messages
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        last_user = ""
        for message in reversed(messages):
            if message.get("role") == "user":
                last_user = content_text(message.get("content"))
                break
        seed = hashlib.blake2b(orjson.dumps([model, messages]), digest_size=16).digest()
        return Prepared(
            model=model,
            stream=body.get("stream") is True,
            include_usage=include_usage,
            max_tokens=checked.max_tokens,
            last_user_text=last_user,
            seed=seed,
            body=body,
            prompt=prompt_pieces(body, self.memo),
        )

    def prompt_usage(self, prep: Prepared, caches: Caches) -> PromptUsage:
        pieces: list[str] = prep.prompt
        cached = caches.openai.lookup_and_store(prep.model, pieces)
        return PromptUsage(total=len(pieces) + PRIMING_TOKENS, cache_read=cached)

    def outputs(self, prep: Prepared, answer: Answer) -> list[Output]:
        """Every choice's output (text, JSON text or a tool call)."""
        body = prep.body
        json_mode, schema = json_setup(body.get("response_format"))
        return request_outputs(
            prep,
            answer,
            tool_setup(body),
            after_tool_result=body["messages"][-1].get("role") == "tool",
            json_mode=json_mode,
            schema=schema,
            n=int(body.get("n") or 1),
        )

    def response(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> bytes:
        outs = self.outputs(prep, answer)
        search = is_search_model(prep.model)
        choices = []
        for i, out in enumerate(outs):
            message: JSONObj = {
                "role": "assistant",
                "content": out.text,
                "refusal": None,
                "annotations": _citations(out.text or "") if search else [],
            }
            if out.tool_call is not None:
                message["tool_calls"] = [_tool_call_json(out.tool_call)]
            logprobs = (
                logprobs_content(out.text or "", prep.seed, prep.last_user_text)
                if wants_logprobs(prep.body)
                else None
            )
            finish = _finish(out)
            choices.append(
                {"index": i, "message": message, "logprobs": logprobs, "finish_reason": finish}
            )
        return orjson.dumps(
            {
                "id": _completion_id(),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": prep.model,
                "choices": choices,
                "usage": _usage(outs, usage),
                "service_tier": response_tier(prep.body),
                "system_fingerprint": _FINGERPRINT,
            }
        )

    def stream_events(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> StreamParts:
        outs = self.outputs(prep, answer)
        base: JSONObj = {
            "id": _completion_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": prep.model,
            "service_tier": response_tier(prep.body),
            "system_fingerprint": _FINGERPRINT,
            "choices": [],
        }
        if prep.include_usage:
            base["usage"] = None

        def chunk(index: int, delta: JSONObj, finish: str | None = None) -> bytes:
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            return sse_data({**base, "choices": [choice]})

        head: list[bytes] = []
        deltas: list[bytes] = []
        tail: list[bytes] = []
        search = is_search_model(prep.model)
        for i, out in enumerate(outs):
            call = out.tool_call
            if call is None:
                head.append(chunk(i, {"role": "assistant", "content": "", "refusal": None}))
                deltas.extend(chunk(i, {"content": text}) for text in out.chunks() if text)
                if search:
                    tail.append(chunk(i, {"annotations": _citations(out.text or "")}))
            else:
                head.append(chunk(i, {"role": "assistant", "content": None, "refusal": None}))
                start = {
                    "index": 0,
                    "id": "call_" + call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
                deltas.append(chunk(i, {"tool_calls": [start]}))
                deltas.extend(
                    chunk(i, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                    for piece in out.chunks()
                    if piece
                )
            tail.append(chunk(i, {}, _finish(out)))
        tail.extend(
            stream_end({**base, "usage": _usage(outs, usage)} if prep.include_usage else None)
        )
        return StreamParts(head=head, deltas=deltas, tail=tail)

    def error(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> bytes:
        error_type = _ERROR_TYPES.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        return orjson.dumps(
            {"error": {"message": message, "type": error_type, "param": param, "code": code}}
        )

    def auth_error(self) -> bytes:
        return self.error(
            401,
            "Incorrect API key provided: sim-bad-key. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )

    def fault_error(self, status: int) -> bytes:
        message = _FAULT_MESSAGES.get(status, "Simulated server error.")
        return self.error(status, message, code=_FAULT_CODES.get(status))

    def request_id_header(self) -> tuple[bytes, bytes]:
        return (b"x-request-id", b"req_" + uuid.uuid4().hex.encode())


def _completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex


def _finish(out: Output) -> str:
    if out.tool_call is not None:
        return "tool_calls"
    return "length" if out.capped else "stop"


def _tool_call_json(call: ToolCall) -> JSONObj:
    return {
        "id": "call_" + call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _usage(outs: list[Output], usage: PromptUsage) -> JSONObj:
    completion = sum(out.tokens for out in outs)
    return {
        "prompt_tokens": usage.total,
        "completion_tokens": completion,
        "total_tokens": usage.total + completion,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
