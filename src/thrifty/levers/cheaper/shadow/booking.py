"""Shadow spend in the ledger: one row of its own per shadowed request.

A shadow call runs after the app's row was committed, so it cannot be one of that row's
calls; it gets its own row, ``endpoint = "shadow"``: the calls it made (the strong model's,
and the judge's), each a ``Call(lever="shadow")`` priced by the Accountant; a baseline of
$0 (the app asked for nothing); and a ``shadow`` saving of minus their cost.  ``detail``
names the request it shadowed and the verdict.  A call that failed after reaching the
provider may have been billed: its cost is unknown (NULL), never $0.
"""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from thrifty.ledger.accounting import NO_USAGE, Accountant
from thrifty.ledger.row import CallRecord, LedgerRow
from thrifty.ledger.stage import error_text
from thrifty.types import Call, ChatRequest, Cost, Usage

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Outcome", "shadow_row"]

ZERO = Decimal(0)


def verdict_word(agreed: bool | None) -> str:
    return "not judged" if agreed is None else "agreed" if agreed else "disagreed"


class Outcome:
    """What one shadowing did: the calls that answered (the strong model's, the judge's),
    the verdict, a failure if any."""

    def __init__(self) -> None:
        self.strong_call: Call | None = None
        self.judge_call: Call | None = None
        self.strong_text: str | None = None
        self.agreed: bool | None = None
        self.error: str | None = None
        self.status = 200
        self.unknown_cost = False  # a failed call that may have been billed

    @property
    def calls(self) -> list[Call]:
        return [c for c in (self.strong_call, self.judge_call) if c is not None]

    def failed(self, exc: BaseException) -> None:
        self.agreed = None
        if isinstance(exc, Exception):
            self.error = error_text(exc)
            self.status = int(getattr(exc, "status", 0) or 502)
            self.unknown_cost = bool(getattr(exc, "reached_upstream", False))
        else:  # cancelled (shutdown): it may have reached the provider
            self.error, self.status, self.unknown_cost = "cancelled: thrifty shut down", 499, True


def _priced(calls: Sequence[Call], accountant: Accountant) -> tuple[list[CallRecord], Usage]:
    records, usage = [], Usage()
    for answered in calls:
        call = replace(answered, lever="shadow")
        records.append(CallRecord(call, accountant.price_call(call)))
        usage = usage + call.usage
    return records, usage


def call_cost(records: Sequence[CallRecord], unknown: bool) -> Cost:
    if unknown or any(r.cost.usd is None for r in records):
        failed = next((r.cost for r in records if r.cost.usd is None), NO_USAGE)
        return Cost(usd=None, source=failed.source)
    if not records:
        return Cost(usd=ZERO, source="none")
    total = sum((r.cost.usd for r in records if r.cost.usd is not None), ZERO)
    return Cost(usd=total, source=records[-1].cost.source)


def shadow_row(
    shadowed: ChatRequest,
    served_model: str,
    shadow: ChatRequest,
    outcome: Outcome,
    accountant: Accountant,
    started: float,
) -> tuple[LedgerRow, Cost]:
    """The ledger row of ``shadow``: the strong model's request for ``shadowed``, which
    ``served_model`` answered."""
    records, usage = _priced(outcome.calls, accountant)
    cost = call_cost(records, outcome.unknown_cost)
    answer = outcome.strong_call
    saved = None if cost.usd is None else -cost.usd
    detail = f"shadow of {shadowed.request_id}: {served_model} vs {shadow.model}"
    if outcome.error is None:
        detail += f", {verdict_word(outcome.agreed)}"
    row = LedgerRow(
        request_id=shadow.request_id,
        ts=shadow.received_at,
        tenant=shadowed.tenant,
        task=shadowed.task,
        dialect=shadow.dialect,
        endpoint="shadow",
        requested_model=shadow.model,
        model=answer.model if answer is not None else shadow.model,
        provider=answer.provider if answer is not None else None,
        stream=False,
        usage=usage,
        cost_usd=cost.usd,
        baseline_usd=ZERO,
        baseline_usage=Usage(),
        savings={"shadow": saved},
        saved_usd=saved,
        price_source=cost.source,
        latency_ms=(time.perf_counter() - started) * 1000.0,
        status=outcome.status,
        error=outcome.error,
        failure="upstream" if outcome.error is not None else None,
        detail=detail,
        calls=tuple(records),
        cost_estimated=any(r.cost.estimated for r in records),
    )
    return row, cost
