"""Figures of an operating point and of a cost-quality curve.

An operating point is one setting of a strategy on the test rows: the answer it accepted per
query (a model index) and which models it called.  Its quality is the mean score of the
accepted answers, its cost the sum of every call's cost.  Percentages of cost are of calling
the strongest model on every query.

The RouteLLM figures, as its evaluation defines them, are on the *strong share* axis (the
share of queries that called the strong model): PGR = (quality - weak) / (strong - weak);
CPT(x) = the strong share at which PGR first reaches x, interpolated linearly between
points; APGR = the area under PGR over strong share from 0 to 1 (trapezoids, the curve
closed by the weak-only and strong-only ends).  A random router gives CPT(50%) = 50% and
APGR = 0.5.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thrifty.eval.route.table import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class Point:
    """One operating point on the test rows."""

    quality: float  # mean score of the accepted answers
    cost: float  # US dollars, every call counted
    cost_pct: float  # of always-strongest
    strong_share: float  # share of queries that called the strongest model
    label: str = ""


def point(
    scores: FloatArray,
    costs: FloatArray,
    chosen: IntArray,
    called: BoolArray,
    strongest: int,
    label: str = "",
) -> Point:
    """Score one operating point; the accepted model must be among those called."""
    rows = np.arange(len(chosen))
    if not bool(called[rows, chosen].all()):
        raise ValueError(f"{label}: an accepted answer comes from a model that was not called")
    baseline = float(costs[:, strongest].sum())
    cost = float((costs * called).sum())
    return Point(
        quality=float(scores[rows, chosen].mean()),
        cost=cost,
        cost_pct=100.0 * cost / baseline if baseline > 0 else 0.0,
        strong_share=float(called[:, strongest].mean()),
        label=label,
    )


def frontier(points: Sequence[Point]) -> list[Point]:
    """The Pareto-efficient points, by rising cost: each costs more and scores higher than the
    one before (equal cost: the best quality only)."""
    best: list[Point] = []
    for p in sorted(points, key=lambda p: (p.cost, -p.quality)):
        if not best or p.quality > best[-1].quality:
            best.append(p)
    return best


def cost_pct_at(points: Sequence[Point], quality: float) -> float | None:
    """The cheapest cost (% of always-strongest) of a point reaching ``quality``, or ``None``.
    No interpolation: the figure is a setting the strategy actually has."""
    eligible = [p.cost_pct for p in points if p.quality >= quality - 1e-12]
    return min(eligible) if eligible else None


def pgr(quality: float, weak: float, strong: float) -> float:
    """Performance gap recovered."""
    if strong == weak:
        raise ValueError("PGR is undefined when the strong and weak models score the same")
    return (quality - weak) / (strong - weak)


def _share_curve(points: Sequence[Point], weak: float, strong: float) -> list[tuple[float, float]]:
    """(strong share, PGR) sorted by share, the best PGR per share, closed at both ends."""
    best: dict[float, float] = {0.0: 0.0, 1.0: 1.0}
    for p in points:
        value = pgr(p.quality, weak, strong)
        best[p.strong_share] = max(best.get(p.strong_share, value), value)
    return sorted(best.items())


def cpt(points: Sequence[Point], target: float, weak: float, strong: float) -> float | None:
    """Call-performance threshold: the strong share needed to reach PGR ``target`` (0..1),
    interpolated between consecutive points of the share curve."""
    curve = _share_curve(points, weak, strong)
    if curve[0][1] >= target:
        return curve[0][0]
    for (s0, g0), (s1, g1) in itertools.pairwise(curve):
        if g1 >= target > g0:
            return s0 + (s1 - s0) * (target - g0) / (g1 - g0)
    return None


def apgr(points: Sequence[Point], weak: float, strong: float) -> float:
    """Average performance gap recovered: the area under PGR over strong share in [0, 1]."""
    curve = _share_curve(points, weak, strong)
    shares = np.array([s for s, _ in curve])
    gains = np.array([g for _, g in curve])
    return float(np.sum((shares[1:] - shares[:-1]) * (gains[1:] + gains[:-1]) / 2))
