"""What a cut is booked as: the tokens it removed, net of the cache it cost.

Against an app that does not cache, the dropped tokens would have been plain input: the
step says ``input_tokens=-removed``.  When the call shows the prompt cache at work (cache
reads or writes in its usage), the dropped tokens, the oldest part of the prompt, would
have been cache reads, and the request on which the cut moves loses the cache for the part
of the conversation it kept (written again, or sent uncached): those tokens would have been
reads too.  The step then says so, and the Accountant, undoing it, prices the baseline with
those reads: the saving booked is the tokens saved minus the cache writes lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.ledger.figures import history_figures
from thrifty.levers.fewer_tokens.history.cuts import MessageFacts
from thrifty.streams import observe
from thrifty.types import ChatResponse, Step, TokenChange, Usage

NEW_MESSAGES = 2  # what a chat turn adds: the previous answer and a new question


@dataclass(frozen=True, slots=True)
class CutFacts:
    """``removed``: tokens the cut took out (net of a summary note); ``moved``: the cut is
    not where it was for this conversation without its newest turn; ``kept_before``:
    tokens of the kept messages the previous request had too (their cache is lost when the
    cut moved)."""

    removed: int
    moved: bool
    kept_before: int


def cut_facts(facts: Sequence[MessageFacts], cut: int, previous_cut: int, removed: int) -> CutFacts:
    end = max(cut, len(facts) - NEW_MESSAGES)
    kept_before = sum(f.tokens for f in facts[cut:end])
    return CutFacts(removed, previous_cut != cut, kept_before)


def booked_change(usage: Usage, cut: CutFacts) -> TokenChange:
    """The step's token change for a call that used ``usage`` (see the module notes)."""
    if cut.removed <= 0 or not (usage.cache_read_tokens or usage.cache_write_tokens):
        return TokenChange(input_tokens=-cut.removed)
    lost = 0
    if cut.moved:
        lost = min(cut.kept_before, usage.input_tokens - usage.cache_read_tokens)
    written = min(lost, usage.cache_write_tokens)
    write_5m = min(written, usage.cache_write_5m_tokens)
    return TokenChange(
        input_tokens=-cut.removed,
        cache_read_tokens=-(cut.removed + lost),
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=written - write_5m,
    )


def ledger_detail(detail: str, change: TokenChange) -> str:
    """``detail`` with the tokens the cut saved and the cache reads it lost (kept
    messages whose cache a moved cut gave up), for people: the ledger keeps the figures
    in columns of their own, read from the step's token change (``ledger.figures``)."""
    saved, lost = history_figures(change)
    return f"{detail} ({saved} tokens saved, {lost} cache reads lost)"


def book(response: ChatResponse, cut: CutFacts, detail: str) -> None:
    """Append the step to ``response`` once its usage is known (a stream: at its end)."""
    if response.served is None or not cut.removed:
        return

    def append() -> None:
        change = booked_change(response.usage, cut)
        response.steps.append(Step("history", ledger_detail(detail, change), tokens=change))

    if response.stream is None:
        append()
        return

    async def on_complete() -> None:
        append()

    async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
        append()

    observe(response, on_complete=on_complete, on_abort=on_abort)
