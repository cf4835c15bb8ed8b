"""The figures a ledger row keeps in columns of its own, read from the levers' steps at
booking time: what the history lever's cut saved and cost in cache reads (``thrifty
report`` sums these columns).  Whether the answer was cut by its length limit is not a
lever's figure but the upstream's own word, ``ChatResponse.truncated``, set by the
provider; the row's ``truncated`` column takes it as it is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from thrifty.types import Call, Step, TokenChange

# The output lever's step for an answer cut by its length limit starts with this (rows
# from before migration 3 were backfilled from it; the column now comes from the answer).
TRUNCATED_MARK = "output: truncated"


def history_figures(change: TokenChange) -> tuple[int, int]:
    """(tokens saved, cache reads lost) of the history lever's token change: it removed
    ``-input_tokens`` prompt tokens, and booked as cache reads those plus the reads a
    moved cut lost."""
    saved = -change.input_tokens
    return saved, max(0, -change.cache_read_tokens - saved)


@dataclass(frozen=True, slots=True)
class StepFigures:
    """What a row keeps in columns of its own from the levers' steps and calls.  A request
    the history lever paid a call for without cutting (a summary that failed) has its
    figures at 0: ``None`` means the lever did not touch the request."""

    history_saved_tokens: int | None = None
    history_cache_reads_lost: int | None = None

    @classmethod
    def of(cls, steps: Iterable[Step], calls: Iterable[Call] = ()) -> StepFigures:
        paid = any(call.lever == "history" for call in calls)
        saved: int | None = 0 if paid else None
        lost: int | None = 0 if paid else None
        for step in steps:
            if step.lever == "history" and step.tokens is not None:
                step_saved, step_lost = history_figures(step.tokens)
                saved = (saved or 0) + step_saved
                lost = (lost or 0) + step_lost
        return cls(saved, lost)
