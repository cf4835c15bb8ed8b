"""The simulator's stand-in for the LLM judge (a test double)."""

from __future__ import annotations

import pytest

from thrifty.levers.judge import judge_prompt
from thrifty.sim.tokens import judge_verdict, make_answer


def prompt(cached: str, fresh: str) -> str:
    return judge_prompt("Is Paris the capital?", cached, fresh)


@pytest.mark.parametrize(
    ("cached", "fresh", "verdict"),
    [
        ("Paris is the capital.", "The capital is Paris!", "SAME"),
        ("Paris.", "paris", "SAME"),
        ("Paris is the capital.", "Lyon is the capital.", "DIFFERENT"),
        ("Line one\nline two", "line two\nLINE ONE", "SAME"),
        ("Paris", "Paris, of course", "DIFFERENT"),
    ],
)
def test_the_judge_double_compares_word_sets(cached: str, fresh: str, verdict: str) -> None:
    assert judge_verdict(prompt(cached, fresh)) == verdict
    assert make_answer(b"seed", prompt(cached, fresh), None).text == verdict


def test_other_messages_are_not_judged() -> None:
    assert judge_verdict("What is <answer_a> anyway?") is None
    assert make_answer(b"seed", "hello", None).text.startswith("Simulated reply")
