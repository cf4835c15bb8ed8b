"""Where a conversation may be cut, whether it is well formed, and the cut each policy
chooses.

The step rule (docs/levers/fewer-tokens.md, "Chat history"): a cut is a function of the
conversation's past alone, and it moves rarely and far, so the turns a request keeps are
the same, byte for byte, as the turns the previous requests kept, and the provider's
prompt cache keeps serving them.

* ``last_n``: with ``n`` turns, the cut is the largest cut point at or before
  ``((n - max_turns) // step_turns) * step_turns``: between ``max_turns`` and
  ``max_turns + step_turns`` turns are kept, and the cut moves once every ``step_turns``.
* ``budget``: the turns are read in order, keeping a running total of the tokens after the
  cut; when it passes ``budget_tokens`` the cut jumps to the first cut point after which at
  most ``low_water * budget_tokens`` remain.  Because the scan only ever reads earlier
  turns, every later request repeats the same cuts: the cut moves about once every
  ``(1 - low_water) * budget_tokens`` tokens of new conversation.

A cut point is a turn index ``i`` (``0 < i < n``) where turn ``i`` is a user message that
carries no tool results and every tool call before it has its result before it: tool calls
and their results are never split apart.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.dialects.view import Turn


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the cut rules read of one message: its role, its prompt tokens, the ids of
    the tool calls it makes and of the tool results it carries, and whether it is empty."""

    role: str
    tokens: int
    calls: tuple[str, ...] = ()
    results: tuple[str | None, ...] = ()
    empty: bool = False

    @classmethod
    def of(cls, turn: Turn, tokens: int) -> MessageFacts:
        empty = not turn.parts or all(p.kind == "text" and not p.text.strip() for p in turn.parts)
        return cls(
            role=turn.role,
            tokens=tokens,
            calls=tuple(c.id for c in turn.tool_calls if c.id is not None),
            results=tuple(r.id for r in turn.tool_results),
            empty=empty,
        )


def problems(turns: Sequence[MessageFacts], max_message_tokens: int) -> list[str]:
    """What makes this conversation malformed for trimming (empty: nothing)."""
    found: list[str] = []
    open_calls: set[str] = set()
    for index, turn in enumerate(turns):
        if turn.role not in ("user", "assistant", "tool"):
            found.append(f"turn {index} has role {turn.role!r}")
        if turn.empty:
            found.append(f"turn {index} is empty")
        for result in turn.results:
            if result is None or result not in open_calls:
                found.append(f"turn {index} has a tool result without its call")
            else:
                open_calls.discard(result)
        open_calls.update(turn.calls)
        if turn.tokens > max_message_tokens:
            found.append(f"turn {index} alone is {turn.tokens} tokens")
    return found


def cut_points(turns: Sequence[MessageFacts]) -> list[int]:
    """Every index the conversation may be cut at, ascending."""
    points: list[int] = []
    open_calls: set[str] = set()
    for index, turn in enumerate(turns):
        if index > 0 and turn.role == "user" and not turn.results and not open_calls:
            points.append(index)
        if turn.results:
            open_calls.difference_update(turn.results)
        if turn.calls:
            open_calls.update(turn.calls)
    return points


def last_n_cut(points: Sequence[int], turns: int, max_turns: int, step_turns: int) -> int:
    """The ``last_n`` cut (0: nothing dropped)."""
    if turns <= max_turns:
        return 0
    target = ((turns - max_turns) // step_turns) * step_turns
    return max((p for p in points if p <= target), default=0)


@dataclass(frozen=True, slots=True)
class BudgetCuts:
    """The cuts the budget scan made, in order (the last is the one in force)."""

    cuts: tuple[int, ...]

    @property
    def cut(self) -> int:
        return self.cuts[-1] if self.cuts else 0

    @property
    def previous(self) -> int:
        return self.cuts[-2] if len(self.cuts) > 1 else 0


def budget_cuts(
    points: Sequence[int], tokens: Sequence[int], budget: int, low_water: float
) -> BudgetCuts:
    """The cuts of the budget scan over ``tokens`` (one count per turn)."""
    low = int(budget * low_water)
    prefix = [0]
    for count in tokens:
        prefix.append(prefix[-1] + count)
    cuts: list[int] = []
    cut = 0
    first = 0  # points[first] is the first point after the cut
    for index in range(len(tokens)):
        end = prefix[index + 1]
        if end - prefix[cut] <= budget:
            continue
        # The points after the cut, up to this turn: found by bisection, and only those up
        # to the new cut are read (they are never read again), not every point each turn.
        last = bisect_right(points, index, first)
        if last == first:
            continue
        chosen = next((i for i in range(first, last) if end - prefix[points[i]] <= low), last - 1)
        cut, first = points[chosen], chosen + 1
        cuts.append(cut)
    return BudgetCuts(tuple(cuts))
