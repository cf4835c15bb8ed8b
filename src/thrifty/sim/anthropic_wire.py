"""Anthropic Messages wire format: request checks, responses, SSE, errors (the prompt's
cacheable blocks: :mod:`thrifty.sim.anthropic_blocks`)."""

from __future__ import annotations

import hashlib
import uuid

import orjson

from thrifty.sim.anthropic_blocks import prompt_blocks, text_of
from thrifty.sim.cache import Block
from thrifty.sim.dialect import BadRequest, Caches, JSONObj, Prepared, PromptUsage, StreamParts
from thrifty.sim.message_rules import check_anthropic_stop_sequences, check_anthropic_tool_turns
from thrifty.sim.output import Output, ToolSpec, request_outputs
from thrifty.sim.tokens import Answer, TokenMemo, strip_markers

_PRIMING_TOKENS = 3

# Request ``service_tier`` values -> the tier the response's usage reports.  The API takes
# "auto" and "standard_only" (without a Priority Tier commitment both run on "standard");
# the simulator also takes the reported names themselves, so tests can ask for any tier.
_SERVICE_TIERS = {
    "auto": "standard",
    "standard_only": "standard",
    "standard": "standard",
    "priority": "priority",
    "batch": "batch",
}
_SIM_RESULT = {
    "type": "web_search_result",
    "url": "https://example.com/thrifty-sim",
    "title": "Simulated search result",
    "encrypted_content": "c2ltdWxhdGVkIHNlYXJjaCByZXN1bHQ=",
    "page_age": None,
}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_FAULT_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit (simulated).",
    500: "Internal server error",
    503: "Service unavailable (simulated)",
    529: "Overloaded",
}


def response_tier(body: JSONObj) -> str:
    """The ``usage.service_tier`` a response reports for a (validated) request body."""
    return _SERVICE_TIERS[str(body.get("service_tier") or "auto")]


def web_search_tool(body: JSONObj) -> bool:
    """Does the request offer the ``web_search`` server tool (``web_search_20250305``...)?
    The simulated model then runs one search before it answers."""
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search_"):
            return True
    return False


def _search_blocks(prep: Prepared) -> tuple[JSONObj, JSONObj]:
    """The ``server_tool_use`` block of one search (input filled in) and its result."""
    tool_id = "srvtoolu_sim" + prep.seed.hex()[:20]
    query = strip_markers(prep.last_user_text)[:100] or "thrifty"
    use = {
        "type": "server_tool_use",
        "id": tool_id,
        "name": "web_search",
        "input": {"query": query},
    }
    result = {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": [_SIM_RESULT]}
    return use, result


def tool_setup(body: JSONObj) -> tuple[list[ToolSpec], str, str | None]:
    """Client tools (not server tools such as web search) and the tool-choice mode."""
    tools: list[ToolSpec] = []
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type", "custom") != "custom":
            continue
        name, schema = tool.get("name"), tool.get("input_schema")
        if isinstance(name, str) and name:
            tools.append(ToolSpec(name, schema if isinstance(schema, dict) else {}))
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return tools, "auto", None
    kind = choice.get("type")
    if kind == "tool":
        return tools, "tool", str(choice.get("name"))
    return tools, kind if kind in ("any", "none") else "auto", None


def output_schema(body: JSONObj) -> JSONObj | None:
    """The JSON schema of structured output (``output_config.format`` or the beta
    ``output_format``), or ``None``."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return schema if isinstance(schema, dict) else {}
    return None


def _after_tool_result(messages: list[JSONObj]) -> bool:
    content = messages[-1].get("content")
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )


def outputs(prep: Prepared, answer: Answer) -> Output:
    """The answer: text, JSON text (structured output) or one tool call."""
    schema = output_schema(prep.body)
    return request_outputs(
        prep,
        answer,
        tool_setup(prep.body),
        after_tool_result=_after_tool_result(prep.body["messages"]),
        json_mode=schema is not None,
        schema=schema,
    )[0]


def _stop_reason(out: Output) -> str:
    if out.tool_call is not None:
        return "tool_use"
    return "max_tokens" if out.capped else "end_turn"


def _output_usage(prep: Prepared, answer: Output) -> JSONObj:
    """Usage fields about the answer: output tokens and server tool uses."""
    out: JSONObj = {"output_tokens": answer.tokens}
    if web_search_tool(prep.body):
        out["server_tool_use"] = {"web_search_requests": 1, "web_fetch_requests": 0}
    return out


class AnthropicDialect:
    name = "anthropic"

    def __init__(self, memo: TokenMemo | None = None) -> None:
        self.memo = memo or TokenMemo()

    def prepare(self, body: object) -> Prepared:
        if not isinstance(body, dict):
            raise BadRequest("There was an error parsing the body: expected a JSON object.")
        for field in ("model", "messages", "max_tokens"):
            if field not in body:
                raise BadRequest(f"{field}: Field required")
        model = body["model"]
        if not isinstance(model, str) or not model:
            raise BadRequest("model: Input should be a valid string")
        messages = body["messages"]
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise BadRequest("messages: Input should be a valid list")
        if not messages:
            raise BadRequest("messages: at least one message is required")
        cap = body["max_tokens"]
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
            raise BadRequest("max_tokens: Input should be greater than or equal to 1")
        check_anthropic_stop_sequences(body)
        check_anthropic_tool_turns(messages)
        tier = body.get("service_tier")
        if tier is not None and tier not in _SERVICE_TIERS:
            raise BadRequest("service_tier: Input should be 'auto' or 'standard_only'")
        tools, mode, forced = tool_setup(body)
        if mode == "tool" and all(t.name != forced for t in tools):
            raise BadRequest(f"tool_choice: tool {forced!r} not found in 'tools'")
        last_user = ""
        for message in reversed(messages):
            if message.get("role") == "user":
                last_user = text_of(message.get("content"))
                break
        ident = orjson.dumps([model, body.get("system"), messages])
        return Prepared(
            model=model,
            stream=body.get("stream") is True,
            include_usage=True,
            max_tokens=cap,
            last_user_text=last_user,
            seed=hashlib.blake2b(ident, digest_size=16).digest(),
            body=body,
            prompt=prompt_blocks(body, self.memo),
        )

    def prompt_usage(self, prep: Prepared, caches: Caches) -> PromptUsage:
        blocks: list[Block] = prep.prompt
        total = sum(b.tokens for b in blocks) + _PRIMING_TOKENS
        outcome = caches.anthropic.process(prep.model, blocks)
        return PromptUsage(
            total=total,
            cache_read=outcome.read,
            cache_write_5m=outcome.write_5m,
            cache_write_1h=outcome.write_1h,
        )

    def count_tokens(self, body: object) -> int:
        """``POST /v1/messages/count_tokens``: prompt tokens, no cache effects."""
        if not isinstance(body, dict) or "messages" not in body or "model" not in body:
            raise BadRequest("messages: Field required")
        if not isinstance(body["messages"], list):
            raise BadRequest("messages: Input should be a valid list")
        return sum(b.tokens for b in prompt_blocks(body, self.memo)) + _PRIMING_TOKENS

    def response(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> bytes:
        out = outputs(prep, answer)
        content: list[JSONObj] = []
        if web_search_tool(prep.body):
            content.extend(_search_blocks(prep))
        call = out.tool_call
        if call is None:
            content.append({"type": "text", "text": out.text})
        else:
            content.append(
                {
                    "type": "tool_use",
                    "id": "toolu_" + call.id,
                    "name": call.name,
                    "input": orjson.loads(call.arguments),
                }
            )
        return orjson.dumps(
            {
                "id": _message_id(),
                "type": "message",
                "role": "assistant",
                "model": prep.model,
                "content": content,
                "stop_reason": _stop_reason(out),
                "stop_sequence": None,
                "usage": {
                    **_input_usage(usage),
                    **_output_usage(prep, out),
                    "service_tier": response_tier(prep.body),
                },
            }
        )

    def stream_events(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> StreamParts:
        out = outputs(prep, answer)
        input_usage = _input_usage(usage)
        message: JSONObj = {
            "id": _message_id(),
            "type": "message",
            "role": "assistant",
            "model": prep.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                **input_usage,
                "output_tokens": 1,
                "service_tier": response_tier(prep.body),
            },
        }
        head = [_event("message_start", {"type": "message_start", "message": message})]
        index = 0
        if web_search_tool(prep.body):
            # The search comes first: its tool-use block (input streamed as JSON), then its
            # result, then the answer's text block.
            use, result = _search_blocks(prep)
            head.extend(
                [
                    _block_start(0, {**use, "input": {}}),
                    _event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {
                                "type": "input_json_delta",
                                "partial_json": orjson.dumps(use["input"]).decode(),
                            },
                        },
                    ),
                    _block_stop(0),
                    _block_start(1, result),
                    _block_stop(1),
                ]
            )
            index = 2
        call = out.tool_call
        if call is None:
            block: JSONObj = {"type": "text", "text": ""}
            kind, field = "text_delta", "text"
        else:
            block = {"type": "tool_use", "id": "toolu_" + call.id, "name": call.name, "input": {}}
            kind, field = "input_json_delta", "partial_json"
        head.extend([_block_start(index, block), _event("ping", _PING)])
        deltas = [
            _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": kind, field: text},
                },
            )
            for text in out.chunks()
            if text
        ]
        delta_usage = {k: v for k, v in input_usage.items() if k != "cache_creation"}
        tail = [
            _block_stop(index),
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": _stop_reason(out),
                        "stop_sequence": None,
                    },
                    "usage": {**delta_usage, **_output_usage(prep, out)},
                },
            ),
            _event("message_stop", {"type": "message_stop"}),
        ]
        return StreamParts(head=head, deltas=deltas, tail=tail)

    def error(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> bytes:
        error_type = _ERROR_TYPES.get(status, "api_error")
        return orjson.dumps(
            {
                "type": "error",
                "error": {"type": error_type, "message": message},
                "request_id": "req_" + uuid.uuid4().hex,
            }
        )

    def auth_error(self) -> bytes:
        return self.error(401, "invalid x-api-key")

    def fault_error(self, status: int) -> bytes:
        return self.error(status, _FAULT_MESSAGES.get(status, "Internal server error"))

    def request_id_header(self) -> tuple[bytes, bytes]:
        return (b"request-id", b"req_" + uuid.uuid4().hex.encode())


def _input_usage(usage: PromptUsage) -> JSONObj:
    written = usage.cache_write_5m + usage.cache_write_1h
    return {
        "input_tokens": usage.total - usage.cache_read - written,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_5m,
            "ephemeral_1h_input_tokens": usage.cache_write_1h,
        },
    }


_PING: JSONObj = {"type": "ping"}


def _block_start(index: int, block: JSONObj) -> bytes:
    return _event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def _block_stop(index: int) -> bytes:
    return _event("content_block_stop", {"type": "content_block_stop", "index": index})


def _event(name: str, data: JSONObj) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _message_id() -> str:
    return "msg_sim" + uuid.uuid4().hex[:20]
