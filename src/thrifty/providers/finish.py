"""Whether an answer was cut by its length limit, in the upstream's own words.

* OpenAI chat completions and legacy completions: ``finish_reason: "length"`` on any
  choice (a request with ``n > 1`` is cut when one of its answers is);
* Anthropic messages: ``stop_reason`` ``"max_tokens"`` (or
  ``"model_context_window_exceeded"``: the window ended the answer before its own limit);
* the Responses API: ``status: "incomplete"`` with ``incomplete_details.reason:
  "max_output_tokens"`` (an answer stopped by the content filter is incomplete too, but
  not cut by its length).

Providers read it once, in their own dialect, before any translation, and set
:attr:`thrifty.types.ChatResponse.truncated`: from the body of a whole answer, from the
final events of a stream (:func:`openai_chunk_cut`, :func:`anthropic_delta_cut`,
:func:`responses_cut`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thrifty.types import Api, Dialect, MalformedEvent, StreamEvent

__all__ = [
    "ANTHROPIC_CUT",
    "OPENAI_CUT_MARK",
    "anthropic_delta_cut",
    "openai_choices_cut",
    "openai_chunk_cut",
    "responses_cut",
    "truncated_answer",
]

OPENAI_CUT = "length"
ANTHROPIC_CUT = frozenset({"max_tokens", "model_context_window_exceeded"})
RESPONSES_CUT = "max_output_tokens"
# What an OpenAI chunk that ends a choice by its length holds, before it is parsed: the
# value can only appear as a JSON string outside text (a text's quotes are escaped).
OPENAI_CUT_MARK = b'"length"'


def openai_choices_cut(choices: Any) -> bool:
    """Whether any choice of an OpenAI answer (or stream chunk) ended by its length."""
    if not isinstance(choices, list):
        return False
    return any(isinstance(c, Mapping) and c.get("finish_reason") == OPENAI_CUT for c in choices)


def responses_cut(response: Any) -> bool:
    """Whether a Responses API response object stopped at ``max_output_tokens``."""
    if not isinstance(response, Mapping) or response.get("status") != "incomplete":
        return False
    details = response.get("incomplete_details")
    return isinstance(details, Mapping) and details.get("reason") == RESPONSES_CUT


def truncated_answer(dialect: Dialect, api: Api, body: Any) -> bool:
    """Whether ``body``, a whole answer of ``api`` in ``dialect``, was cut by its length."""
    if not isinstance(body, Mapping):
        return False
    if dialect == "anthropic":
        return body.get("stop_reason") in ANTHROPIC_CUT
    if api == "responses":
        return responses_cut(body)
    return openai_choices_cut(body.get("choices"))


def openai_chunk_cut(event: StreamEvent) -> bool:
    """Whether an OpenAI stream chunk ends a choice by its length: a byte search first,
    so only a chunk that may say so is parsed."""
    if event.raw.find(OPENAI_CUT_MARK) < 0:  # (not ``in``: ~0.5 µs more a test)
        return False
    try:
        data = event.data
    except MalformedEvent:
        return False  # the stream's reader reports it
    return data is not None and openai_choices_cut(data.get("choices"))


def anthropic_delta_cut(data: Mapping[str, Any]) -> bool:
    """Whether an Anthropic ``message_delta`` event's data ends the answer by its limit."""
    delta = data.get("delta")
    return isinstance(delta, Mapping) and delta.get("stop_reason") in ANTHROPIC_CUT
