"""Calibration: the similarity threshold that keeps wrong hits under an error budget.

The false-hit rate is the share of served hits whose cached answer is wrong for the new
query (1 - precision).  Offline, :func:`calibrate` reads labelled pairs (a similarity, the
guards' verdict and whether the pair truly asks the same) and, for each target rate, walks
the thresholds from the strictest down, keeping each whose *upper* confidence bound on the
false-hit rate among the pairs at or above it is within the target, and stops at the first
that is not (fixed-sequence testing, as in "Learn then Test", Angelopoulos et al. 2021):
the bound, not the observed rate, so a threshold chosen on few pairs is not optimistic,
and no threshold below a failing one, so trying many thresholds does not pick a lucky one.
The thresholds the cache ships with were computed so on Quora Question Pairs
(``thrifty eval cache`` reproduces them; :mod:`.table`).

Online, :class:`Tally` counts exploration outcomes (a would-be hit sent upstream anyway
and the answers compared); its Wilson interval is the reported estimate of the error rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Z_CALIBRATION",
    "Tally",
    "calibrate",
    "threshold_for",
    "wilson_bounds",
]

Z_95 = 1.959964  # two-sided 95%: each bound is exceeded 2.5% of the time
# Calibration's bound: two-sided 99%, each upper bound exceeded 0.5% of the time.  At 95%
# the 10% budget was missed on held-out Quora pairs (13% realised on the first 8,000).
Z_CALIBRATION = 2.575829


def wilson_bounds(failures: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a rate observed as ``failures`` in ``trials``
    (``(0, 1)`` when nothing was observed)."""
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= failures <= trials:
        raise ValueError(f"failures must be within 0..trials, got {failures}/{trials}")
    rate = failures / trials
    z2 = z * z
    centre = (rate + z2 / (2 * trials)) / (1 + z2 / trials)
    spread = z * math.sqrt(rate * (1 - rate) / trials + z2 / (4 * trials * trials))
    spread /= 1 + z2 / trials
    return max(0.0, centre - spread), min(1.0, centre + spread)


def calibrate(
    similarities: Sequence[float],
    same: Sequence[bool],
    targets: Sequence[float],
    *,
    z: float = Z_CALIBRATION,
    min_hits: int = 30,
    start_share: float = 0.0,
) -> dict[float, float | None]:
    """For each target false-hit rate, the lowest threshold ``t`` such that, among the
    pairs with similarity >= ``t``, the Wilson upper bound (``z``: 99% two-sided by
    default) of the share of wrong pairs (``same`` False) is at most the target, and so is
    it at every higher threshold (the thresholds with enough pairs at or above them,
    ``min_hits`` and as many as the target needs to be met at all, are tested in order from
    the strictest; the first whose bound exceeds the target ends the search).  ``None``: no
    threshold meets the target (the cache must not serve hits).

    ``start_share``: the first threshold tested is the one with as many pairs above it as
    the bound needs to fit the target when ``start_share`` of them are wrong (0: when none
    is; 0.5: when half the target's rate is).  A start fixed by counts alone, before any
    label is read, keeps the search valid; a later start lets a few wrongly labelled pairs
    at the very top (Quora holds some) not end the search at once.

    Pairs the guards vetoed must be left out by the caller: they never become hits."""
    if len(similarities) != len(same):
        raise ValueError("similarities and labels differ in length")
    for target in targets:
        if not 0 < target < 1:
            raise ValueError(f"a target false-hit rate is within (0, 1), got {target}")
    ranked = sorted(zip(similarities, same, strict=True), key=lambda pair: -pair[0])
    chosen: dict[float, float | None] = dict.fromkeys(targets)
    open_targets = set(targets)  # those whose search has not failed yet
    # A target's tests start where its bound can fit at all (no wrong pair among n: n >=
    # about z^2 / target, 189 pairs at 2%), and never below min_hits.
    if not 0 <= start_share < 1:
        raise ValueError(f"start_share is within [0, 1), got {start_share}")
    first = {t: max(min_hits, _pairs_needed(t, z, start_share)) for t in targets}
    wrong = 0
    for index, (similarity, is_same) in enumerate(ranked):
        wrong += not is_same
        hits = index + 1
        tied = index + 1 < len(ranked) and ranked[index + 1][0] == similarity
        if tied:
            continue  # a threshold cannot split equal similarities
        upper = wilson_bounds(wrong, hits, z)[1]
        for target in list(open_targets):
            if hits < first[target]:
                continue
            if upper <= target:
                chosen[target] = similarity
            else:
                open_targets.discard(target)
        if not open_targets:
            break
    return chosen


def _pairs_needed(target: float, z: float, share: float = 0.0) -> int:
    """The fewest pairs whose Wilson upper bound, with ``share`` of the target's rate of
    them wrong (rounded down), is within ``target``."""
    pairs = max(1, math.floor(z * z * (1 - target) / target))
    if share == 0:
        while wilson_bounds(0, pairs, z)[1] > target:
            pairs += 1
        return pairs
    pairs = 1
    while wilson_bounds(math.floor(pairs * target * share), pairs, z)[1] > target:
        pairs += 1
    return pairs


def threshold_for(target: float, table: Mapping[float, float | None]) -> float | None:
    """The threshold for ``target`` from a calibration table: the entry of the largest
    calibrated target not above it (a stricter budget's threshold is safe for a looser
    one).  ``None`` when the target is below every calibrated one."""
    eligible = [t for t in table if t <= target + 1e-12]
    return table[max(eligible)] if eligible else None


@dataclass(slots=True)
class Tally:
    """Exploration outcomes: ``explored`` would-be hits checked upstream, ``wrong`` of
    which the comparator judged different from the cached answer."""

    explored: int = 0
    wrong: int = 0

    def add(self, agreed: bool) -> None:
        self.explored += 1
        self.wrong += not agreed

    @property
    def rate(self) -> float | None:
        return self.wrong / self.explored if self.explored else None

    def bounds(self) -> tuple[float, float]:
        return wilson_bounds(self.wrong, self.explored)

    def describe(self) -> str:
        """Short, for a response header: ``0.012 [0.004, 0.034] n=250``."""
        if not self.explored:
            return "unknown n=0"
        low, high = self.bounds()
        return f"{self.wrong / self.explored:.3f} [{low:.3f}, {high:.3f}] n={self.explored}"
