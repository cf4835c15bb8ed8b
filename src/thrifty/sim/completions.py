"""OpenAI legacy text completions (``POST /v1/completions``): JSON and SSE chunks.

``prompt`` is a string, a list of strings, a list of token ids or a list of token-id
lists; each prompt gets ``n`` choices (``index`` = prompt number * n + choice number).
``max_tokens`` defaults to 16, as OpenAI's does, so an answer is often cut (``finish_reason:
"length"``).  No prompt caching: usage has no ``prompt_tokens_details``.  A stream sends
one chunk per text delta, a closing chunk per choice with its ``finish_reason``, the usage
chunk (``choices: []``) when ``stream_options.include_usage`` is set, then ``[DONE]``.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import orjson

from thrifty.sim.dialect import BadRequest, Caches, JSONObj, Prepared, PromptUsage, StreamParts
from thrifty.sim.message_rules import check_openai_stop
from thrifty.sim.openai_request import model_and_required
from thrifty.sim.openai_wire import OpenAIDialect, sse_data, stream_end
from thrifty.sim.output import Output, plan_outputs
from thrifty.sim.tokens import Answer, make_answer

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions
_FINGERPRINT = "fp_sim0000001"


def _prompts(value: Any) -> list[str | list[int]]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(_token(t) for t in value):
        return [value]
    if isinstance(value, list) and value:
        prompts: list[str | list[int]] = []
        for item in value:
            if isinstance(item, str) or (
                isinstance(item, list) and item and all(_token(t) for t in item)
            ):
                prompts.append(item)
                continue
            break
        else:
            return prompts
    raise BadRequest(
        "Invalid type for 'prompt': expected a string, an array of strings, an array of "
        "integers or an array of integer arrays.",
        param="prompt",
        code="invalid_type",
    )


def _token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _int_field(body: JSONObj, name: str, default: int, low: int, high: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequest(
            f"Invalid '{name}': expected an integer between {low} and {high}, but got "
            f"{value!r} instead.",
            param=name,
            code="invalid_value",
        )
    return value


class CompletionsDialect(OpenAIDialect):
    name = "openai-completions"

    def prepare(self, body: object) -> Prepared:
        if not isinstance(body, dict):
            return super().prepare(body)  # the OpenAI parse-error 400
        model, value = model_and_required(body, "prompt")
        prompts = _prompts(value)
        cap = _int_field(body, "max_tokens", DEFAULT_MAX_TOKENS, 0, 1_000_000)
        _int_field(body, "n", 1, 1, 128)
        check_openai_stop(body)
        texts = [p for p in prompts if isinstance(p, str)]
        options = body.get("stream_options")
        seed = hashlib.blake2b(orjson.dumps([model, prompts]), digest_size=16).digest()
        counts = [len(p) if isinstance(p, list) else self.memo.count(p) for p in prompts]
        return Prepared(
            model=model,
            stream=body.get("stream") is True,
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
            max_tokens=cap,
            last_user_text=texts[-1] if texts else "",
            seed=seed,
            body={**body, "prompt": prompts},
            prompt=counts,
        )

    def prompt_usage(self, prep: Prepared, caches: Caches) -> PromptUsage:
        counts: list[int] = prep.prompt
        return PromptUsage(total=sum(counts))

    def completion_outputs(self, prep: Prepared, answer: Answer) -> list[Output]:
        """Every choice's output, prompt by prompt."""
        n = int(prep.body.get("n") or 1)
        outs: list[Output] = []
        for number, prompt in enumerate(prep.body["prompt"]):
            seed = prep.seed + number.to_bytes(4, "big")
            text = prompt if isinstance(prompt, str) else ""
            if number:  # each prompt its own answer (the first is the endpoint's)
                answer = make_answer(seed, text, prep.max_tokens)
            outs.extend(
                plan_outputs(
                    seed=seed,
                    answer=answer,
                    last_user_text=text,
                    max_tokens=prep.max_tokens,
                    tool=None,
                    json_mode=False,
                    schema=None,
                    n=n,
                )
            )
        return outs

    def _envelope(self, prep: Prepared) -> JSONObj:
        return {
            "id": "cmpl-" + uuid.uuid4().hex,
            "object": "text_completion",
            "created": int(time.time()),
            "model": prep.model,
            "system_fingerprint": _FINGERPRINT,
        }

    @staticmethod
    def _usage(outs: list[Output], usage: PromptUsage) -> JSONObj:
        completion = sum(out.tokens for out in outs)
        return {
            "prompt_tokens": usage.total,
            "completion_tokens": completion,
            "total_tokens": usage.total + completion,
        }

    def response(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> bytes:
        outs = self.completion_outputs(prep, answer)
        echo = prep.body.get("echo") is True
        choices = []
        for index, out in enumerate(outs):
            text = out.text or ""
            if echo:
                prompt = prep.body["prompt"][index // int(prep.body.get("n") or 1)]
                text = (prompt if isinstance(prompt, str) else "") + text
            choices.append(
                {"text": text, "index": index, "logprobs": None, "finish_reason": _finish(out)}
            )
        body = {**self._envelope(prep), "choices": choices, "usage": self._usage(outs, usage)}
        return orjson.dumps(body)

    def stream_events(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> StreamParts:
        outs = self.completion_outputs(prep, answer)
        base = self._envelope(prep)
        if prep.include_usage:
            base["usage"] = None

        def chunk(index: int, text: str, finish: str | None = None) -> bytes:
            choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
            return sse_data({**base, "choices": [choice]})

        deltas: list[bytes] = []
        tail: list[bytes] = []
        for index, out in enumerate(outs):
            deltas.extend(chunk(index, text) for text in out.chunks() if text)
            tail.append(chunk(index, "", _finish(out)))
        final = (
            {**base, "choices": [], "usage": self._usage(outs, usage)}
            if prep.include_usage
            else None
        )
        tail.extend(stream_end(final))
        return StreamParts(head=[], deltas=deltas, tail=tail)


def _finish(out: Output) -> str:
    return "length" if out.capped else "stop"
