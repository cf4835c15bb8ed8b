"""The decision for one lookup: serve a hit, explore it, or call upstream.

For each candidate (most similar first, down to ``min_similarity``): the guards may veto it;
otherwise it passes when its score reaches the calibrated threshold for the task's error
budget: the pair scorer's probability when the calibration table has a scorer
(:mod:`.scorer`), else the cosine similarity.  What exploration learnt about that entry
moves this, in similarity (vCache's per-entry thresholds, simplified):

* an entry once found wrong at similarity ``s`` is never served again at or below ``s``;
* an entry found right at least :data:`MIN_AGREEMENTS` times, and never wrong, is served
  from the lowest similarity it was found right at (not below ``min_similarity``).

At or above its threshold a candidate is a hit, or, with probability ``explore_rate``, an
exploration: the request goes upstream anyway and the fresh answer is compared with the
cached one, which measures the error rate and teaches the entry.  Below it, the candidate is
a "near miss": the request goes upstream (it would anyway) and the two answers are compared
for free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from thrifty.levers.fewer_calls.semantic.guards import veto
from thrifty.levers.fewer_calls.semantic.scorer import PairScorer
from thrifty.levers.fewer_calls.semantic.store import Entry

__all__ = ["Decision", "Policy", "decide", "entry_threshold"]

MIN_AGREEMENTS = 2
WRONG_MARGIN = 0.005

Kind = Literal["hit", "explore", "near", "veto", "miss"]


@dataclass(frozen=True, slots=True)
class Policy:
    """One task's settings, resolved (``threshold`` None: never serve a hit; it applies to
    ``scorer``'s probability, or to the cosine similarity when there is no scorer)."""

    threshold: float | None
    min_similarity: float
    explore_rate: float
    scorer: PairScorer | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    kind: Kind
    entry: Entry | None = None
    similarity: float | None = None
    reason: str = ""


def entry_threshold(entry: Entry, policy: Policy) -> float | None:
    """The similarity from which ``entry`` is served, for a policy without a scorer."""
    base = policy.threshold
    if entry.highest_wrong is not None:
        raised = entry.highest_wrong + WRONG_MARGIN
        return raised if base is None else max(base, raised)
    if entry.agreed >= MIN_AGREEMENTS and entry.lowest_agreed is not None:
        lowered = max(policy.min_similarity, entry.lowest_agreed)
        return lowered if base is None else min(base, lowered)
    return base


def decide(
    candidates: Sequence[tuple[Entry, float]],
    query: str,
    policy: Policy,
    random: Callable[[], float],
) -> Decision:
    vetoed: Decision | None = None
    for entry, similarity in candidates:
        if similarity < policy.min_similarity:
            break
        reason = veto(entry.query, query)
        if reason is not None:
            vetoed = vetoed or Decision("veto", entry, similarity, reason)
            continue
        if _serves(entry, query, similarity, policy):
            if policy.explore_rate > 0 and random() < policy.explore_rate:
                return Decision("explore", entry, similarity)
            return Decision("hit", entry, similarity)
        return Decision("near", entry, similarity)
    return vetoed or Decision("miss")


def _serves(entry: Entry, query: str, similarity: float, policy: Policy) -> bool:
    if policy.scorer is None:
        threshold = entry_threshold(entry, policy)
        return threshold is not None and similarity >= threshold
    if entry.highest_wrong is not None:
        if similarity < entry.highest_wrong + WRONG_MARGIN:
            return False
    elif (
        entry.agreed >= MIN_AGREEMENTS
        and entry.lowest_agreed is not None
        and similarity >= max(policy.min_similarity, entry.lowest_agreed)
    ):
        return True
    if policy.threshold is None:
        return False
    return policy.scorer.score(entry.query, query, similarity) >= policy.threshold
