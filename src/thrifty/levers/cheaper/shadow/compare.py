"""Whether the served answer agrees with the strong model's: the comparators.

``exact``, ``normalised`` and ``json`` are the semantic cache's comparators
(:func:`thrifty.levers.fewer_calls.semantic.answers.comparator`).  ``judge`` asks a
configured model, with the fixed prompt below, whether the served answer is as good as the
strong model's; it answers in JSON (``{"verdict": "agree" | "disagree"}``, asked for with a
JSON schema) or starts its text with one of those words (or yes / no).  Anything else is no
verdict (``None``), never a guess.  The judge's call is paid for: it is returned so the
stage books it with the shadow call.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import orjson

from thrifty.levers.fewer_calls.semantic.answers import answer_text, comparator
from thrifty.types import JSON, ChatRequest, ChatResponse, Handler

__all__ = ["JUDGE_SYSTEM", "Compare", "LlmJudge", "TextComparator", "judge_request", "verdict_of"]

MAX_JUDGED_CHARS = 8000  # each text the judge reads is cut to this
JUDGE_MAX_TOKENS = 256
JUDGE_SYSTEM = (
    "You compare two answers to the same request. The reference answer comes from a strong "
    "model; the candidate answer from a cheaper one. They may be worded differently. Reply "
    '{"verdict": "agree"} when the candidate is correct and complete wherever the reference '
    'is, and {"verdict": "disagree"} otherwise. Reply with that JSON object only.'
)
VERDICT_SCHEMA: JSON = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["agree", "disagree"]}},
    "required": ["verdict"],
    "additionalProperties": False,
}
_WORDS = {"agree": True, "yes": True, "disagree": False, "no": False}
_FIRST_WORD = re.compile(r"[a-z]+")


class Compare(Protocol):
    """``(request text, reference, candidate) -> (agreed or None, judge calls made)``."""

    def __call__(
        self, prompt: str, reference: str, candidate: str, request: ChatRequest
    ) -> Awaitable[tuple[bool | None, list[ChatResponse]]]: ...


class TextComparator:
    """A text comparator of the semantic cache, with no call."""

    def __init__(self, name: str, fields: Sequence[str] = ()) -> None:
        if name not in ("exact", "normalised", "json"):
            raise ValueError(f"unknown comparator {name!r}")
        self.name = name
        self._agree: Callable[[str, str], bool] = comparator(name, fields)  # type: ignore[arg-type]

    async def __call__(
        self, prompt: str, reference: str, candidate: str, request: ChatRequest
    ) -> tuple[bool | None, list[ChatResponse]]:
        return self._agree(reference, candidate), []


def judge_request(model: str, prompt: str, reference: str, candidate: str) -> JSON:
    """The judge's request body (OpenAI chat completions; translated for a Claude judge)."""
    cut = MAX_JUDGED_CHARS
    user = (
        f"Request:\n<<<\n{prompt[:cut]}\n>>>\n\n"
        f"Reference answer:\n<<<\n{reference[:cut]}\n>>>\n\n"
        f"Candidate answer:\n<<<\n{candidate[:cut]}\n>>>"
    )
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": JUDGE_SYSTEM},
            {"role": "user", "content": user},
        ],
        "temperature": 0,
        "max_completion_tokens": JUDGE_MAX_TOKENS,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "strict": True, "schema": VERDICT_SCHEMA},
        },
    }


def verdict_of(text: str | None) -> bool | None:
    """The judge's verdict: JSON ``{"verdict": ...}``, else a leading agree/disagree/yes/no."""
    if not text:
        return None
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        verdict = parsed.get("verdict")
        return _WORDS.get(verdict) if isinstance(verdict, str) else None
    first = _FIRST_WORD.match(text.strip().lower())
    return _WORDS.get(first.group(0)) if first else None


class LlmJudge:
    """The ``judge`` comparator: one call to ``model`` through ``call`` (the providers)."""

    name = "judge"

    def __init__(self, model: str, call: Handler) -> None:
        self.model = model
        self._call = call

    async def __call__(
        self, prompt: str, reference: str, candidate: str, request: ChatRequest
    ) -> tuple[bool | None, list[ChatResponse]]:
        body = judge_request(self.model, prompt, reference, candidate)
        asked = ChatRequest(
            dialect="openai",
            body=body,
            model=self.model,
            requested_model=self.model,
            task=request.task,
            tenant=request.tenant,
            endpoint="shadow",
        )
        response = await self._call(asked)
        text = answer_text(response.body, "openai") if response.body is not None else None
        return verdict_of(text), [response]
