"""The escalation rate per task, from the ledger, for ``thrifty report``.

Read from each row's ``detail``, where the cascade's step states its outcome
(``cascade accepted-tier-0 ...``, ``cascade escalated-tier-N ...``, ``cascade
streamed-tier-0 ...``).  A request whose top tier failed has no outcome in its row and is
not counted.  Rates are exact fractions of whole counts; no money here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from thrifty.ledger.schema import connect

_QUERY = """
SELECT task,
       SUM(detail LIKE '%cascade accepted-tier-0%'),
       SUM(detail LIKE '%cascade escalated-tier-%'),
       SUM(detail LIKE '%cascade streamed-tier-0%')
FROM requests
WHERE detail LIKE '%cascade %' AND ts >= ? AND ts < ?
GROUP BY task
ORDER BY task
"""
NONE_KEY = "(none)"


@dataclass(frozen=True, slots=True)
class CascadeLine:
    task: str
    accepted: int  # answered by tier 0 after the signals accepted it
    escalated: int  # answered by a later tier
    streamed: int  # tier 0 streamed live (stream_first_tier): no confidence check

    @property
    def requests(self) -> int:
        return self.accepted + self.escalated + self.streamed

    @property
    def escalation_rate(self) -> float | None:
        judged = self.accepted + self.escalated
        return self.escalated / judged if judged else None

    def to_json(self) -> dict[str, Any]:
        rate = self.escalation_rate
        return {
            "task": self.task,
            "requests": self.requests,
            "accepted_tier_0": self.accepted,
            "escalated": self.escalated,
            "streamed_tier_0": self.streamed,
            "escalation_rate": None if rate is None else round(rate, 4),
        }


def cascade_lines(
    path: str | os.PathLike[str], since: float | None = None, until: float | None = None
) -> list[CascadeLine]:
    """Per task, how its cascaded requests were answered over ``since <= ts < until``."""
    conn = connect(path, create=False)
    try:
        low = since if since is not None else float("-inf")
        high = until if until is not None else float("inf")
        found = conn.execute(_QUERY, (low, high)).fetchall()
    finally:
        conn.close()
    return [
        CascadeLine(task or NONE_KEY, int(a or 0), int(e or 0), int(s or 0))
        for task, a, e, s in found
    ]


def render_lines(lines: list[CascadeLine]) -> str:
    """The report's text section ("" when no request went through a cascade)."""
    if not lines:
        return ""
    out = ["", "Cascade (escalation rate per task)"]
    out.append(f"  {'task':<24} {'requests':>9} {'tier 0':>8} {'escalated':>10} {'rate':>7}")
    for line in lines:
        rate = line.escalation_rate
        shown = "-" if rate is None else f"{100 * rate:.1f}%"
        out.append(
            f"  {line.task[:24]:<24} {line.requests:>9} {line.accepted:>8} "
            f"{line.escalated:>10} {shown:>7}"
        )
    if any(line.streamed for line in lines):
        out.append("  (streamed tier 0 answers are counted in requests, not in the rate)")
    return "\n".join(out)
