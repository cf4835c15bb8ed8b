"""The budget scan reads each cut point a bounded number of times: the same cuts as the
scan that listed every point after the cut at each turn over the budget, and no blow-up on
a long conversation whose later turns have no point to cut at."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.history.cuts import budget_cuts


def cuts_before(
    points: Sequence[int], tokens: Sequence[int], budget: int, low_water: float
) -> tuple[int, ...]:
    """The old scan: every point after the cut listed again at each turn over budget."""
    low = int(budget * low_water)
    prefix = [0]
    for count in tokens:
        prefix.append(prefix[-1] + count)
    cuts: list[int] = []
    cut = 0
    for index in range(len(tokens)):
        end = prefix[index + 1]
        if end - prefix[cut] <= budget:
            continue
        candidates = [p for p in points if cut < p <= index]
        if not candidates:
            continue
        cut = next((p for p in candidates if end - prefix[p] <= low), candidates[-1])
        cuts.append(cut)
    return tuple(cuts)


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    tokens = draw(st.lists(st.integers(0, 12), max_size=25))
    points = draw(st.sets(st.integers(1, max(1, len(tokens) - 1)))) if len(tokens) > 1 else set()
    return sorted(points), tokens


@settings(max_examples=1000, deadline=None)
@given(conversations(), st.integers(1, 40), st.sampled_from([0.1, 0.5, 0.9]))
def test_the_cuts_are_those_of_the_full_listing(
    conversation: tuple[list[int], list[int]], budget: int, low_water: float
) -> None:
    points, tokens = conversation
    found = budget_cuts(points, tokens, budget, low_water)
    assert found.cuts == cuts_before(points, tokens, budget, low_water)


@pytest.mark.timeout(30)
def test_no_blow_up_when_the_later_turns_cannot_be_cut() -> None:
    """100,000 turns, cut points in the first half only (an open tool call after them):
    each later turn over the budget listed all 50,000 points before (minutes)."""
    turns = 100_000
    points = list(range(1, turns // 2))
    found = budget_cuts(points, [10] * turns, 5, 0.5)
    assert found.cut == points[-1]
    assert len(found.cuts) == len(points)
