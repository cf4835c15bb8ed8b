"""What a tier answered, read the same way in both dialects: the text (message content, or
a tool call's arguments), the JSON it holds if any, and the token log-probabilities when
the provider returned them (OpenAI's ``choices[0].logprobs.content``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from thrifty.dialects.view import RequestView
from thrifty.types import JSON, ChatRequest, Dialect

_FENCE = "```"


@dataclass(frozen=True, slots=True)
class TierAnswer:
    """One tier's complete answer, as the signals see it."""

    model: str
    prompt: str  # the last user turn's text
    text: str
    logprobs: tuple[float, ...] | None  # per output token; None: not returned

    def json(self) -> Any:
        """The answer parsed as JSON (a fenced ```json block is unwrapped); raises
        ``ValueError`` when it is not JSON."""
        text = self.text.strip()
        if text.startswith(_FENCE):
            text = text.strip("`").removeprefix("json").strip()
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"not JSON: {error}") from None

    def mean_logprob(self) -> float | None:
        if not self.logprobs:
            return None
        return math.fsum(self.logprobs) / len(self.logprobs)


def prompt_text(request: ChatRequest) -> str:
    """The text of the request's last user turn (what a scorer reads as the prompt)."""
    for turn in reversed(RequestView.of(request).messages):
        if turn.role == "user":
            return "\n".join(p.text for p in turn.parts if p.kind == "text" and p.text)
    return ""


def _openai_text(body: JSON) -> tuple[str, tuple[float, ...] | None]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", None
    choice = choices[0]
    found = choice.get("message")
    message: JSON = found if isinstance(found, dict) else {}
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    text = content if isinstance(content, str) else ""
    calls = message.get("tool_calls")
    if not text and isinstance(calls, list) and calls and isinstance(calls[0], dict):
        function = calls[0].get("function")
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            text = function["arguments"]
    return text, _openai_logprobs(choice.get("logprobs"))


def _openai_logprobs(logprobs: object) -> tuple[float, ...] | None:
    if not isinstance(logprobs, dict) or not isinstance(logprobs.get("content"), list):
        return None
    values = [
        float(token["logprob"])
        for token in logprobs["content"]
        if isinstance(token, dict) and isinstance(token.get("logprob"), int | float)
    ]
    return tuple(v for v in values if math.isfinite(v)) or None


def _anthropic_text(body: JSON) -> str:
    blocks = body.get("content")
    if not isinstance(blocks, list):
        return ""
    texts = [
        b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)
    ]
    if texts:
        return "".join(texts)
    for block in blocks:
        if block.get("type") == "tool_use":
            return orjson.dumps(block.get("input", {})).decode()
    return ""


def read_answer(request: ChatRequest, dialect: Dialect, body: JSON, model: str) -> TierAnswer:
    """``body`` (a complete answer in ``dialect``) as a :class:`TierAnswer`."""
    if dialect == "openai":
        text, logprobs = _openai_text(body)
    else:
        text, logprobs = _anthropic_text(body), None
    return TierAnswer(model=model, prompt=prompt_text(request), text=text, logprobs=logprobs)
