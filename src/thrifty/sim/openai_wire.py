"""OpenAI chat completions wire format: request checks, responses, SSE chunks, errors."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import orjson

from thrifty.sim.dialect import BadRequest, Caches, JSONObj, Prepared, PromptUsage, StreamParts
from thrifty.sim.logprobs import logprobs_content, wants_logprobs
from thrifty.sim.output import Output, ToolCall, ToolSpec, choose_tool, plan_outputs
from thrifty.sim.tokens import Answer, TokenMemo

_FINGERPRINT = "fp_sim0000001"
_PRIMING_TOKENS = 3  # "<|start|>assistant<|message|>" after the last message

_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 429: "requests"}
_FAULT_MESSAGES = {
    429: "Rate limit reached for requests (simulated). Please try again in 1s.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The server is overloaded or not ready yet.",
    529: "The server is overloaded (simulated 529).",
}
_FAULT_CODES = {429: "rate_limit_exceeded"}
# Request ``service_tier`` values OpenAI accepts, and the tier a response then reports
# ("auto" runs on the project's default tier).
_SERVICE_TIERS = {
    "auto": "default",
    "default": "default",
    "flex": "flex",
    "scale": "scale",
    "priority": "priority",
}
# The chat-completions search models search the web before every answer.
_SEARCH_MARKERS = ("-search-preview", "-search-api")
_SIM_CITATION = {"url": "https://example.com/thrifty-sim", "title": "Simulated search result"}
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)


def is_search_model(model: str) -> bool:
    """``gpt-4o-search-preview``, ``gpt-4o-mini-search-preview``, ``gpt-5-search-api``..."""
    return any(marker in model for marker in _SEARCH_MARKERS)


def response_tier(body: JSONObj) -> str:
    """The ``service_tier`` a response reports for a (validated) request body."""
    return _SERVICE_TIERS[str(body.get("service_tier") or "auto")]


def _citations(text: str) -> list[JSONObj]:
    """One ``url_citation`` annotation over the whole answer (what a search model adds)."""
    return [
        {
            "type": "url_citation",
            "url_citation": {"start_index": 0, "end_index": len(text), **_SIM_CITATION},
        }
    ]


def content_text(content: Any) -> str:
    """The text of a message ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                else:
                    texts.append(f"[{part.get('type', 'part')}]")
        return "\n".join(texts)
    return ""


class OpenAIDialect:
    name = "openai"

    def __init__(self, memo: TokenMemo | None = None) -> None:
        self.memo = memo or TokenMemo()

    def prepare(self, body: object) -> Prepared:
        if not isinstance(body, dict):
            raise BadRequest(_BAD_JSON)
        model = body.get("model")
        if not model or not isinstance(model, str):
            raise BadRequest("you must provide a model parameter")
        messages = body.get("messages")
        if messages is None:
            raise BadRequest(
                "Missing required parameter: 'messages'.",
                param="messages",
                code="missing_required_parameter",
            )
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise BadRequest(
                "Invalid type for 'messages': expected an array of objects.",
                param="messages",
                code="invalid_type",
            )
        if not messages:
            raise BadRequest(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                "but got an empty array instead.",
                param="messages",
                code="empty_array",
            )
        cap = body.get("max_completion_tokens", body.get("max_tokens"))
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
            raise BadRequest(
                f"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, "
                f"but got {cap!r} instead.",
                param="max_tokens",
                code="integer_below_min_value",
            )
        tier = body.get("service_tier")
        if tier is not None and tier not in _SERVICE_TIERS:
            raise BadRequest(
                f"Invalid value: {tier!r}. Supported values are: "
                + ", ".join(repr(t) for t in _SERVICE_TIERS)
                + ".",
                param="service_tier",
                code="invalid_value",
            )
        if body.get("web_search_options") is not None and not is_search_model(model):
            raise BadRequest(
                "web_search_options is only supported by the search models "
                "(gpt-4o-search-preview, gpt-4o-mini-search-preview, gpt-5-search-api).",
                param="web_search_options",
                code="unsupported_parameter",
            )
        n = body.get("n", 1)
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128):
            raise BadRequest(
                f"Invalid 'n': expected an integer between 1 and 128, but got {n!r} instead.",
                param="n",
                code="invalid_value",
            )
        tools, mode, forced = tool_setup(body)
        if mode == "tool" and all(t.name != forced for t in tools):
            raise BadRequest(
                f"Invalid value for 'tool_choice': tool {forced!r} is not in 'tools'.",
                param="tool_choice",
                code="invalid_value",
            )
        if mode == "any" and not tools:
            raise BadRequest(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                param="tool_choice",
                code="invalid_value",
            )
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
            max_tokens=cap,
            last_user_text=last_user,
            seed=seed,
            body=body,
            prompt=prompt_pieces(body, self.memo),
        )

    def prompt_usage(self, prep: Prepared, caches: Caches) -> PromptUsage:
        pieces: list[str] = prep.prompt
        cached = caches.openai.lookup_and_store(prep.model, pieces)
        return PromptUsage(total=len(pieces) + _PRIMING_TOKENS, cache_read=cached)

    def outputs(self, prep: Prepared, answer: Answer) -> list[Output]:
        """Every choice's output (text, JSON text or a tool call)."""
        body = prep.body
        tools, mode, forced = tool_setup(body)
        messages = body["messages"]
        after_result = messages[-1].get("role") == "tool"
        tool = choose_tool(tools, mode, forced, prep.last_user_text, after_result)
        json_mode, schema = json_setup(body.get("response_format"))
        return plan_outputs(
            seed=prep.seed,
            answer=answer,
            last_user_text=prep.last_user_text,
            max_tokens=prep.max_tokens,
            tool=tool,
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
            return b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n"

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
        if prep.include_usage:
            final = {**base, "usage": _usage(outs, usage)}
            tail.append(b"data: " + orjson.dumps(final) + b"\n\n")
        tail.append(b"data: [DONE]\n\n")
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


def model_and_required(body: JSONObj, field: str) -> tuple[str, Any]:
    """A body's ``model`` and the value of its required ``field``, with the 400s OpenAI
    answers when either is missing."""
    model = body.get("model")
    if not model or not isinstance(model, str):
        raise BadRequest("you must provide a model parameter")
    if field not in body:
        raise BadRequest(
            f"Missing required parameter: '{field}'.",
            param=field,
            code="missing_required_parameter",
        )
    return model, body[field]


def prompt_pieces(body: JSONObj, memo: TokenMemo) -> list[str]:
    """Token pieces of the prompt in the order the model reads it: tools, then messages
    (each framed by start/role/end tokens)."""
    pieces: list[str] = []
    tools = body.get("tools")
    if tools:
        pieces.extend(memo.pieces(orjson.dumps(tools).decode()))
    for message in body["messages"]:
        pieces.append("<|start|>")
        pieces.append(str(message.get("role", "user")))
        pieces.extend(memo.pieces(content_text(message.get("content"))))
        tool_calls = message.get("tool_calls")
        if tool_calls:
            pieces.extend(memo.pieces(orjson.dumps(tool_calls).decode()))
        pieces.append("<|end|>")
    return pieces


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


def tool_setup(body: JSONObj) -> tuple[list[ToolSpec], str, str | None]:
    """Function tools (chat completions or Responses shape) and the tool-choice mode."""
    tools: list[ToolSpec] = []
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue
        fn: JSONObj = tool["function"] if isinstance(tool.get("function"), dict) else tool
        name = fn.get("name")
        if isinstance(name, str) and name:
            params = fn.get("parameters")
            tools.append(ToolSpec(name, params if isinstance(params, dict) else {}))
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        fn = choice["function"] if isinstance(choice.get("function"), dict) else choice
        name = fn.get("name")
        if choice.get("type") == "function" and isinstance(name, str):
            return tools, "tool", name
        return tools, "auto", None
    return tools, {"required": "any", "none": "none"}.get(str(choice), "auto"), None


def json_setup(fmt: object) -> tuple[bool, JSONObj | None]:
    """``response_format`` (or the Responses API's ``text.format``): JSON mode and schema."""
    if not isinstance(fmt, dict):
        return False, None
    if fmt.get("type") == "json_object":
        return True, None
    if fmt.get("type") == "json_schema":
        inner: JSONObj = fmt["json_schema"] if isinstance(fmt.get("json_schema"), dict) else fmt
        schema = inner.get("schema")
        return True, schema if isinstance(schema, dict) else {}
    return False, None


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
