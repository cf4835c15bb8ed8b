"""Cut points, the step rules of ``last_n`` and ``budget``, and what counts as malformed."""

from __future__ import annotations

from thrifty.dialects.view import Turn, text_part, tool_call_part, tool_result_part
from thrifty.levers.fewer_tokens.history.cuts import (
    MessageFacts,
    budget_cuts,
    cut_points,
    last_n_cut,
    problems,
)


def facts(turns: list[Turn], tokens: int = 1) -> list[MessageFacts]:
    return [MessageFacts.of(t, tokens) for t in turns]


def chat(n: int, tokens: int = 1) -> list[MessageFacts]:
    """``n`` turns, user and assistant in turn."""
    return facts(
        [Turn.of("user" if i % 2 == 0 else "assistant", f"t{i}") for i in range(n)], tokens
    )


def test_cut_points_are_user_turns_after_the_first() -> None:
    assert cut_points(chat(6)) == [2, 4]


def test_a_tool_call_and_its_result_are_never_split() -> None:
    turns = [
        Turn.of("user", "weather?"),
        Turn("assistant", (tool_call_part("c1", "weather", {}),)),
        Turn("user", (tool_result_part("c1", "sunny"),)),  # Anthropic: a result in a user turn
        Turn.of("assistant", "sunny"),
        Turn.of("user", "thanks"),
    ]
    assert cut_points(facts(turns)) == [4]


def test_an_unanswered_call_blocks_every_later_cut() -> None:
    turns = [
        Turn.of("user", "a"),
        Turn("assistant", (tool_call_part("c1", "f", {}),)),
        Turn.of("user", "b"),
        Turn.of("assistant", "c"),
        Turn.of("user", "d"),
    ]
    assert cut_points(facts(turns)) == []


def test_last_n_moves_once_every_step() -> None:
    cuts = [last_n_cut(cut_points(chat(n)), n, max_turns=4, step_turns=4) for n in range(1, 20)]
    # n <= 4 keeps all; then the cut sits at 4 for n in 8..11, at 8 for 12..15, ...
    assert cuts == [0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12]
    for n, cut in zip(range(1, 20), cuts, strict=True):
        assert n - cut >= min(n, 4)  # never fewer than max_turns kept


def test_last_n_snaps_back_to_a_cut_point() -> None:
    # an odd step lands on assistant turns: the cut goes back to the user turn before
    assert last_n_cut(cut_points(chat(10)), 10, max_turns=4, step_turns=3) == 6
    assert last_n_cut(cut_points(chat(9)), 9, max_turns=4, step_turns=3) == 2


def test_budget_cut_jumps_to_low_water_and_stays() -> None:
    turns = chat(40)
    tokens = [100] * 40
    points = cut_points(turns)
    history = [budget_cuts(points, tokens[:n], 1000, 0.5).cut for n in range(1, 41)]
    # 11 turns (1,100 tokens) pass 1,000: the cut jumps to the first user turn leaving
    # <= 500 (turn 6: 5 turns left); it stays there until the kept part passes 1,000 again
    assert history[:10] == [0] * 10
    assert history[10] == 6
    assert history[10:16] == [6] * 6
    assert history[16] == 12
    # each request repeats its predecessors' cuts: the scan is over the past only
    full = budget_cuts(points, tokens, 1000, 0.5)
    assert full.cuts[:2] == (6, 12)
    assert all(b - a == 6 for a, b in zip(full.cuts, full.cuts[1:], strict=False))
    assert full.previous == full.cuts[-2]


def test_budget_without_a_cut_point_keeps_everything() -> None:
    assert budget_cuts(cut_points(chat(1)), [5000], 1000, 0.5).cut == 0


def test_problems_name_each_malformed_turn() -> None:
    turns = [
        Turn.of("user", "hi"),
        Turn("user", (tool_result_part("nope", "x"),)),
        Turn("assistant", ()),
        Turn("assistant", (text_part("  "),)),
        Turn("", ()),
    ]
    found = problems(facts(turns), 100)
    assert "turn 1 has a tool result without its call" in found
    assert "turn 2 is empty" in found and "turn 3 is empty" in found
    assert "turn 4 has role ''" in found
    sized = chat(3)
    sized[1] = MessageFacts("assistant", 500)
    assert problems(sized, 100) == ["turn 1 alone is 500 tokens"]
    assert problems(chat(3), 100) == []
