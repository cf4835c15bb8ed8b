"""The decision rules, per-entry thresholds, what is storable, and the comparators."""

from __future__ import annotations

import numpy as np
import pytest

from thrifty.levers.fewer_calls.semantic.answers import (
    answer_text,
    comparator,
    text_body,
)
from thrifty.levers.fewer_calls.semantic.policy import Policy, decide, entry_threshold
from thrifty.levers.fewer_calls.semantic.store import Entry
from thrifty.streams.record import body_of
from thrifty.testing import collect, request_for, stream_reply
from thrifty.types import Usage

POLICY = Policy(threshold=0.9, min_similarity=0.7, explore_rate=0.1)


def entry(query: str = "capital of france", **learnt: object) -> Entry:
    return Entry(
        id=1,
        partition="p",
        query=query,
        vector=np.zeros(2, np.float32),
        dialect="openai",
        model="gpt-4o",
        body={},
        usage=Usage(),
        created_at=0.0,
        **learnt,  # type: ignore[arg-type]
    )


def test_entry_thresholds() -> None:
    assert entry_threshold(entry(), POLICY) == 0.9
    assert entry_threshold(entry(wrong=1, highest_wrong=0.95), POLICY) == pytest.approx(0.955)
    assert entry_threshold(entry(wrong=1, highest_wrong=0.8), POLICY) == 0.9  # never lower
    assert entry_threshold(entry(agreed=1, lowest_agreed=0.8), POLICY) == 0.9  # once is not enough
    assert entry_threshold(entry(agreed=2, lowest_agreed=0.8), POLICY) == 0.8
    assert entry_threshold(entry(agreed=2, lowest_agreed=0.5), POLICY) == 0.7  # the floor
    # found wrong once: agreements no longer lower it
    assert (
        entry_threshold(entry(agreed=5, lowest_agreed=0.8, wrong=1, highest_wrong=0.85), POLICY)
        == 0.9
    )
    never = Policy(threshold=None, min_similarity=0.7, explore_rate=0.0)
    assert entry_threshold(entry(), never) is None
    assert entry_threshold(entry(agreed=2, lowest_agreed=0.8), never) == 0.8


def test_decide() -> None:
    e = entry()
    assert decide([], "q", POLICY, lambda: 0.5).kind == "miss"
    assert decide([(e, 0.95)], "capital of france?", POLICY, lambda: 0.5).kind == "hit"
    assert decide([(e, 0.95)], "capital of france?", POLICY, lambda: 0.05).kind == "explore"
    assert decide([(e, 0.85)], "capital of france?", POLICY, lambda: 0.5).kind == "near"
    assert decide([(e, 0.6)], "capital of france?", POLICY, lambda: 0.5).kind == "miss"
    vetoed = decide([(e, 0.99)], "capital of france in 1800", POLICY, lambda: 0.5)
    assert (vetoed.kind, vetoed.reason) == ("veto", "numbers")
    # a vetoed candidate does not hide the next one
    other = entry("the capital of france")
    found = decide([(e, 0.99), (other, 0.95)], "the capital of france", POLICY, lambda: 0.5)
    assert found.kind == "hit"


def test_storable_answers() -> None:
    assert answer_text(text_body("openai", "m", "hi", "stop"), "openai") == "hi"
    assert answer_text(text_body("anthropic", "m", "hi", "end_turn"), "anthropic") == "hi"
    assert answer_text(text_body("openai", "m", "hi", "length"), "openai") is None
    assert answer_text(text_body("anthropic", "m", "hi", "max_tokens"), "anthropic") is None
    assert answer_text(text_body("openai", "m", "", "stop"), "openai") is None
    tool = text_body("anthropic", "m", "hi", "end_turn")
    tool["content"].append({"type": "tool_use", "id": "t", "name": "f", "input": {}})
    assert answer_text(tool, "anthropic") is None
    assert answer_text({"choices": []}, "openai") is None


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_a_stream_is_rebuilt_into_its_body(dialect: str) -> None:
    model = "gpt-4o" if dialect == "openai" else "claude-haiku-4-5"
    request = request_for(model, "hi", dialect=dialect, stream=True)  # type: ignore[arg-type]
    response = stream_reply(request, ["Hel", "lo"])
    events = await collect(response)
    body = body_of(events, request.dialect, response.usage)
    assert body is not None and answer_text(body, request.dialect) == "Hello"


def test_comparators() -> None:
    assert comparator("exact")("Paris.", "Paris.") and not comparator("exact")("Paris.", "paris")
    normalised = comparator("normalised")
    assert normalised("Paris.", "  paris ") and not normalised("Paris", "Lyon")
    whole = comparator("json")
    assert whole('{"a": 1, "b": 2}', '{"b": 2, "a": 1}') and not whole('{"a": 1}', "nope")
    fields = comparator("json", ("label",))
    assert fields('{"label": "spam", "why": "x"}', '{"label": "spam", "why": "y"}')
    assert not fields('{"label": "spam"}', '{"label": "ham"}')
    assert not fields("[1]", "[1]")
