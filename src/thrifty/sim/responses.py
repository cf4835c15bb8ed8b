"""OpenAI Responses API (``POST /v1/responses``): JSON and the SSE event sequence.

``input`` is a string or a list of items (messages with string or ``input_text`` parts,
``function_call`` and ``function_call_output``); ``instructions`` is a system message.
Function tools, ``tool_choice`` and ``text.format`` (JSON) follow the rules of
:mod:`thrifty.sim.output`.  Usage shares the OpenAI prefix cache with chat completions.
A capped answer ends ``incomplete`` (``max_output_tokens``).

Answers are stored (unless ``"store": false``) for the side routes of
:mod:`thrifty.sim.response_routes`; ``previous_response_id`` continues a stored response
(its items count as input) and ``"background": true`` answers ``queued`` at once (see
:mod:`thrifty.sim.stored_responses`).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import orjson

from thrifty.sim.dialect import BadRequest, JSONObj, Prepared, PromptUsage, StreamParts
from thrifty.sim.openai_request import (
    PRIMING_TOKENS,
    SERVICE_TIERS,
    content_text,
    json_setup,
    output_cap,
    response_tier,
    tool_setup,
)
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.sim.output import Output, request_outputs
from thrifty.sim.stored_responses import NotStored, ResponseStore
from thrifty.sim.tokens import Answer, TokenMemo

_MIN_OUTPUT_TOKENS = 16


def _items(value: Any) -> list[JSONObj]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return value
    raise BadRequest(
        "Invalid type for 'input': expected a string or an array of input items.",
        param="input",
        code="invalid_type",
    )


def _item_text(item: JSONObj) -> str:
    kind = item.get("type", "message")
    if kind == "function_call":
        return f"{item.get('name')} {item.get('arguments')}"
    if kind == "function_call_output":
        output = item.get("output")
        return output if isinstance(output, str) else content_text(output)
    return content_text(item.get("content"))


class ResponsesDialect(OpenAIDialect):
    name = "openai-responses"

    def __init__(self, memo: TokenMemo | None = None, store: ResponseStore | None = None) -> None:
        super().__init__(memo)
        self.store = store

    def count_input(self, body: object) -> int:
        """The input tokens ``body`` would be billed for (``/v1/responses/input_tokens``)."""
        prep = self.prepare(body)
        pieces: list[str] = prep.prompt
        return len(pieces) + PRIMING_TOKENS

    def _earlier(self, body: JSONObj) -> list[JSONObj]:
        """The stored conversation ``previous_response_id`` continues (none without it)."""
        previous = body.get("previous_response_id")
        if previous is None:
            return []
        if not isinstance(previous, str) or self.store is None:
            raise BadRequest(
                "Invalid 'previous_response_id'.",
                param="previous_response_id",
                code="invalid_value",
            )
        try:
            return self.store.context(previous)
        except NotStored:
            raise BadRequest(
                f"Previous response with id '{previous[:64]}' not found.",
                param="previous_response_id",
            ) from None

    @staticmethod
    def _background(body: JSONObj) -> bool:
        if body.get("background") is not True:
            return False
        if body.get("store") is False:
            raise BadRequest("Background mode requires 'store' to be true.", param="background")
        if body.get("stream") is True:
            raise BadRequest(
                "The simulator does not stream background responses; poll "
                "GET /v1/responses/{id} instead.",
                param="stream",
            )
        return True

    def prepare(self, body: object) -> Prepared:
        if not isinstance(body, dict):
            return super().prepare(body)  # the OpenAI parse-error 400
        model = body.get("model")
        if not model or not isinstance(model, str):
            raise BadRequest(
                "Missing required parameter: 'model'.",
                param="model",
                code="missing_required_parameter",
            )
        if "input" not in body:
            raise BadRequest(
                "Missing required parameter: 'input'.",
                param="input",
                code="missing_required_parameter",
            )
        items = _items(body["input"])
        cap = output_cap(body.get("max_output_tokens"), "max_output_tokens", _MIN_OUTPUT_TOKENS)
        tier = body.get("service_tier")
        if tier is not None and tier not in SERVICE_TIERS:
            raise BadRequest(
                f"Invalid value: {tier!r}.", param="service_tier", code="invalid_value"
            )
        tools, mode, forced = tool_setup(body)
        if mode == "tool" and all(t.name != forced for t in tools):
            raise BadRequest(
                f"Tool choice {forced!r} not found in 'tools' parameter.",
                param="tool_choice",
                code="invalid_value",
            )
        instructions = body.get("instructions")
        background = self._background(body)
        earlier = self._earlier(body)
        pieces: list[str] = []
        if tools:
            pieces.extend(self.memo.pieces(orjson.dumps(body.get("tools")).decode()))
        if isinstance(instructions, str) and instructions:
            pieces.extend(["<|start|>", "developer", *self.memo.pieces(instructions), "<|end|>"])
        last_user = ""
        for item in [*earlier, *items]:
            pieces.extend(["<|start|>", str(item.get("role", item.get("type", "user")))])
            pieces.extend(self.memo.pieces(_item_text(item)))
            pieces.append("<|end|>")
            if item.get("role") == "user":
                last_user = _item_text(item)
        seed = hashlib.blake2b(orjson.dumps([model, instructions, items]), digest_size=16).digest()
        return Prepared(
            model=model,
            stream=body.get("stream") is True,
            include_usage=True,
            max_tokens=cap,
            last_user_text=last_user,
            seed=seed,
            body={**body, "input": items},
            prompt=pieces,
            background=background,
        )

    def _output(self, prep: Prepared, answer: Answer) -> Output:
        text = prep.body.get("text")
        json_mode, schema = json_setup(text.get("format") if isinstance(text, dict) else None)
        return request_outputs(
            prep,
            answer,
            tool_setup(prep.body),
            after_tool_result=prep.body["input"][-1].get("type") == "function_call_output",
            json_mode=json_mode,
            schema=schema,
        )[0]

    def _envelope(self, prep: Prepared, rid: str, created: int) -> JSONObj:
        body = prep.body
        text = body.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
        return {
            "id": rid,
            "object": "response",
            "created_at": created,
            "status": "in_progress",
            "background": body.get("background") is True,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": prep.model,
            "output": [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": response_tier(body),
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": fmt if isinstance(fmt, dict) else {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": None,
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }

    @staticmethod
    def _item(out: Output, item_id: str, status: str) -> JSONObj:
        call = out.tool_call
        if call is not None:
            return {
                "id": item_id,
                "type": "function_call",
                "status": status,
                "call_id": "call_" + call.id,
                "name": call.name,
                "arguments": call.arguments if status != "in_progress" else "",
            }
        content: list[JSONObj] = (
            []
            if status == "in_progress"
            else [{"type": "output_text", "text": out.text, "annotations": [], "logprobs": []}]
        )
        return {
            "id": item_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    @staticmethod
    def _finish(env: JSONObj, out: Output, item: JSONObj, usage: PromptUsage) -> JSONObj:
        done = {
            **env,
            "status": "incomplete" if out.capped else "completed",
            "output": [item],
            "usage": {
                "input_tokens": usage.total,
                # cache_write_tokens: required by the current spec; the simulated OpenAI
                # cache is implicit and reports no writes (chat completions do not either).
                "input_tokens_details": {
                    "cached_tokens": usage.cache_read,
                    "cache_write_tokens": 0,
                },
                "output_tokens": out.tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage.total + out.tokens,
            },
        }
        if out.capped:
            done["incomplete_details"] = {"reason": "max_output_tokens"}
        return done

    def _ids(self, prep: Prepared, out: Output) -> tuple[str, str, int]:
        rid = "resp_" + uuid.uuid4().hex
        prefix = "fc_" if out.tool_call is not None else "msg_"
        return rid, prefix + uuid.uuid4().hex, int(time.time())

    def response(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> bytes:
        out = self._output(prep, answer)
        rid, item_id, created = self._ids(prep, out)
        status = "incomplete" if out.capped else "completed"
        item = self._item(out, item_id, status)
        env = self._envelope(prep, rid, created)
        done = self._finish(env, out, item, usage)
        if prep.background and self.store is not None:
            queued = {**env, "status": "queued"}
            self.store.put_background(queued, done, prep.body["input"], prep.run_s)
            return orjson.dumps(queued)
        self._keep(prep, done)
        return orjson.dumps(done)

    def _keep(self, prep: Prepared, done: JSONObj) -> None:
        if self.store is not None and prep.body.get("store") is not False:
            self.store.put(done, prep.body["input"])

    def stream_events(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> StreamParts:
        out = self._output(prep, answer)
        rid, item_id, created = self._ids(prep, out)
        env = self._envelope(prep, rid, created)
        final_item = self._item(out, item_id, "incomplete" if out.capped else "completed")
        seq = 0

        def event(kind: str, data: JSONObj) -> bytes:
            nonlocal seq
            payload = {"type": kind, "sequence_number": seq, **data}
            seq += 1
            return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

        where = {"item_id": item_id, "output_index": 0}
        head = [
            event("response.created", {"response": env}),
            event("response.in_progress", {"response": env}),
            event(
                "response.output_item.added",
                {"output_index": 0, "item": self._item(out, item_id, "in_progress")},
            ),
        ]
        call = out.tool_call
        if call is None:
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            text_at = {**where, "content_index": 0}
            head.append(event("response.content_part.added", {**text_at, "part": part}))
            deltas = [
                event("response.output_text.delta", {**text_at, "delta": t, "logprobs": []})
                for t in out.chunks()
                if t
            ]
            tail = [
                event(
                    "response.output_text.done",
                    {**text_at, "text": out.text, "logprobs": []},
                ),
                event(
                    "response.content_part.done",
                    {**text_at, "part": {**part, "text": out.text}},
                ),
            ]
        else:
            deltas = [
                event("response.function_call_arguments.delta", {**where, "delta": piece})
                for piece in out.chunks()
                if piece
            ]
            tail = [
                event(
                    "response.function_call_arguments.done",
                    {**where, "name": call.name, "arguments": call.arguments},
                )
            ]
        done = self._finish(env, out, final_item, usage)
        self._keep(prep, done)
        tail.append(event("response.output_item.done", {"output_index": 0, "item": final_item}))
        final_kind = "response.incomplete" if out.capped else "response.completed"
        tail.append(event(final_kind, {"response": done}))
        return StreamParts(head=head, deltas=deltas, tail=tail)
