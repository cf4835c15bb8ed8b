"""The pair-protocol figures of `thrifty eval cache`, computed from pairs and embeddings.

Pair protocol (the evaluation data's README): ``text_a`` is cached, ``text_b`` is the new
query.  A hit serves ``text_a``'s answer: right on a duplicate pair, a false hit otherwise.
Three strategies on the same embeddings, each calibrated on the calibration half for each
target false-hit rate and measured on the held-out half:

* ``scorer``: the guards, then a threshold on the pair scorer's probability (the scorer is
  fitted on a quarter of the calibration half and its thresholds calibrated on the other
  three quarters: :mod:`.fit`);
* ``guarded``: the guards, then a threshold on the cosine similarity;
* ``cosine``: a plain cosine threshold, the baseline.

The whole-cache protocol and the lookup speed are in :mod:`.whole_cache`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from thrifty.eval.cache.fit import fit_scorer, is_fit_pair
from thrifty.eval.cache.noise import START_SHARE, label_noise
from thrifty.eval.cache.pairs import Pair, split_of
from thrifty.eval.cache.swaps import swap_set
from thrifty.levers.fewer_calls.semantic.calibration import calibrate
from thrifty.levers.fewer_calls.semantic.guards import veto

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from thrifty.levers.fewer_calls.semantic.embedder import Vectors
    from thrifty.levers.fewer_calls.semantic.scorer import PairScorer

__all__ = ["Outcome", "Report", "Scored", "curve", "measure", "outcome", "score_pairs"]

CURVE_STEPS = 101  # thresholds 0.50, 0.505, ..., 1.00 (cosine); 0 to 1 (scorer)
RECALL_LEVELS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True, slots=True)
class Scored:
    """Pairs with their cosine similarity, whether the guards let them through, and
    (once a scorer is fitted) the scorer's probability."""

    pairs: Sequence[Pair]
    similarity: npt.NDArray[np.float32]
    passes: npt.NDArray[np.bool_]
    same: npt.NDArray[np.bool_]
    score: npt.NDArray[np.float64] | None = None

    def subset(self, keep: npt.NDArray[np.bool_]) -> Scored:
        return Scored(
            [p for p, k in zip(self.pairs, keep, strict=True) if k],
            self.similarity[keep],
            self.passes[keep],
            self.same[keep],
            None if self.score is None else self.score[keep],
        )

    def scored_by(self, scorer: PairScorer) -> Scored:
        import numpy as np

        scores = [
            scorer.score(p.text_a, p.text_b, float(c))
            for p, c in zip(self.pairs, self.similarity, strict=True)
        ]
        return Scored(
            self.pairs, self.similarity, self.passes, self.same, np.array(scores, np.float64)
        )


def score_pairs(pairs: Sequence[Pair], vectors: dict[str, Vectors]) -> Scored:
    import numpy as np

    a = np.stack([vectors[p.text_a] for p in pairs])
    b = np.stack([vectors[p.text_b] for p in pairs])
    return Scored(
        pairs,
        np.einsum("ij,ij->i", a, b).astype(np.float32),
        np.array([veto(p.text_a, p.text_b) is None for p in pairs]),
        np.array([p.same for p in pairs]),
    )


@dataclass(slots=True)
class Outcome:
    """What a threshold does on a set of pairs."""

    threshold: float | None
    hits: int
    wrong_hits: int
    duplicates: int

    @property
    def false_hit_rate(self) -> float | None:
        return self.wrong_hits / self.hits if self.hits else None

    @property
    def precision(self) -> float | None:
        return 1 - self.wrong_hits / self.hits if self.hits else None

    @property
    def recall(self) -> float:
        return (self.hits - self.wrong_hits) / self.duplicates if self.duplicates else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "hits": self.hits,
            "wrong_hits": self.wrong_hits,
            "realised_false_hit_rate": self.false_hit_rate,
            "precision": self.precision,
            "recall": self.recall,
        }


def _values(scored: Scored, strategy: str) -> npt.NDArray[Any]:
    if strategy != "scorer":
        return scored.similarity
    if scored.score is None:
        raise ValueError("these pairs were not scored by a scorer")
    return scored.score


def outcome(
    scored: Scored, threshold: float | None, guarded: bool, *, strategy: str = "cosine"
) -> Outcome:
    """``strategy`` "scorer" thresholds the scorer's probability, else the cosine."""
    duplicates = int(scored.same.sum())
    if threshold is None:
        return Outcome(None, 0, 0, duplicates)
    hit = _values(scored, strategy) >= threshold
    if guarded:
        hit &= scored.passes
    return Outcome(threshold, int(hit.sum()), int((hit & ~scored.same).sum()), duplicates)


def curve(scored: Scored, guarded: bool, *, strategy: str = "cosine") -> list[Outcome]:
    import numpy as np

    low = 0.0 if strategy == "scorer" else 0.5
    return [
        outcome(scored, float(t), guarded, strategy=strategy)
        for t in np.linspace(low, 1.0, CURVE_STEPS)
    ]


def precision_at_recall(scored: Scored, strategy: str, recall: float) -> float | None:
    """The best precision among all thresholds of ``strategy`` that reach ``recall`` (every
    distinct value is a threshold; the guards apply unless ``strategy`` is "cosine")."""
    import numpy as np

    keep = scored.passes if strategy != "cosine" else np.ones(len(scored.pairs), bool)
    values, same = _values(scored, strategy)[keep], scored.same[keep]
    duplicates = int(scored.same.sum())
    if not duplicates:
        return None
    order = np.argsort(-values, kind="stable")
    ranked, labels = values[order], same[order]
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]  # a threshold cannot split ties
    right = np.cumsum(labels)[last_of_tie]
    hits = np.arange(1, len(labels) + 1)[last_of_tie]
    reached = right / duplicates >= recall
    return float((right[reached] / hits[reached]).max()) if reached.any() else None


@dataclass(slots=True)
class Report:
    pairs: int
    calibration_pairs: int
    held_out_pairs: int
    fit_pairs: int = 0
    strategy: str = "cosine"  # what `thresholds` apply to: "scorer" or "cosine"
    scorer: PairScorer | None = None
    targets: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, list[Outcome]] = field(default_factory=dict)
    precision_at_recall: list[dict[str, Any]] = field(default_factory=list)
    swap: dict[str, Any] = field(default_factory=dict)
    whole_cache: dict[str, Any] = field(default_factory=dict)
    speed: dict[str, Any] = field(default_factory=dict)
    label_noise: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[float, float | None] = field(default_factory=dict)
    guarded_thresholds: dict[float, float | None] = field(default_factory=dict)


def _calibrated(
    pool: Scored, targets: Sequence[float], strategy: str, min_hits: int
) -> dict[float, float | None]:
    values = _values(pool, strategy)
    return calibrate(
        values.tolist(), pool.same.tolist(), targets, min_hits=min_hits, start_share=START_SHARE
    )


def measure(
    scored: Scored, targets: Sequence[float], *, min_hits: int = 30, strategy: str = "guarded"
) -> Report:
    """Fit, calibrate on one half, report on the other (pair protocol).  ``strategy``:
    whose thresholds the report's rows (and a saved table) hold, "scorer" (when one could
    be fitted) or "guarded" (the guards and a cosine threshold)."""
    if strategy not in ("scorer", "guarded"):
        raise ValueError(f"strategy is 'scorer' or 'guarded', got {strategy!r}")
    import numpy as np

    halves = np.array([split_of(p.id) == "calibration" for p in scored.pairs])
    calibration, held_out = scored.subset(halves), scored.subset(~halves)
    fitting = np.array([is_fit_pair(p.id) for p in calibration.pairs], dtype=bool)
    fit_pool = calibration.subset(fitting & calibration.passes)
    scorer = fit_scorer(fit_pool.pairs, fit_pool.similarity.tolist())
    guarded = _calibrated(calibration.subset(calibration.passes), targets, "cosine", min_hits)
    cosine = _calibrated(calibration, targets, "cosine", min_hits)
    report = Report(len(scored.pairs), len(calibration.pairs), len(held_out.pairs))
    report.guarded_thresholds = guarded
    strategies = ["cosine", "guarded"]
    report.thresholds = guarded
    if scorer is not None:
        report.fit_pairs = len(fit_pool.pairs)
        held_out = held_out.scored_by(scorer)
        strategies.append("scorer")
        if strategy == "scorer":
            report.strategy, report.scorer = "scorer", scorer
            threshold_pool = calibration.subset(~fitting & calibration.passes).scored_by(scorer)
            report.thresholds = _calibrated(threshold_pool, targets, "scorer", min_hits)
    for target in targets:
        ours = outcome(held_out, report.thresholds[target], True, strategy=report.strategy)
        plain = outcome(held_out, cosine[target], guarded=False)
        report.targets.append(
            {
                "target_false_hit_rate": target,
                "strategy": report.strategy,
                "threshold": report.thresholds[target],
                "realised_false_hit_rate": ours.false_hit_rate,
                "recall": ours.recall,
                "precision": ours.precision,
                "hits": ours.hits,
                "guarded_cosine": outcome(held_out, guarded[target], guarded=True).as_json(),
                "cosine_baseline": plain.as_json(),
                "cosine_precision_at_equal_recall": precision_at_recall(
                    held_out, "cosine", ours.recall
                ),
            }
        )
    report.label_noise = label_noise(calibration, held_out, guarded, min_hits=min_hits)
    for name in strategies:
        report.curves[name] = curve(held_out, name != "cosine", strategy=name)
    report.precision_at_recall = [
        {"recall": level, **{n: precision_at_recall(held_out, n, level) for n in strategies}}
        for level in RECALL_LEVELS
    ]
    return report


def swap_figures(
    held_out: Sequence[Pair],
    vectors: dict[str, Vectors],
    thresholds: dict[float, float | None],
    scorer: PairScorer | None = None,
) -> dict[str, Any]:
    """Precision on the held-out duplicates mixed with their trap twins, per target
    (``thresholds`` apply to ``scorer``'s probability, or to the cosine without one)."""
    mixed = swap_set(held_out)
    pairs = [pair for pair, _ in mixed]
    scored = score_pairs(pairs, vectors) if pairs else None
    strategy = "cosine"
    if scored is not None and scorer is not None:
        scored, strategy = scored.scored_by(scorer), "scorer"
    kinds: dict[str, int] = {}
    for _, kind in mixed:
        kinds[kind] = kinds.get(kind, 0) + 1
    figures: dict[str, Any] = {"pairs": len(pairs), "kinds": kinds, "targets": []}
    if scored is None:
        return figures
    for target, threshold in thresholds.items():
        ours = outcome(scored, threshold, True, strategy=strategy)
        plain = outcome(scored, threshold, False, strategy=strategy)
        figures["targets"].append(
            {
                "target_false_hit_rate": target,
                "precision": ours.precision,
                "recall": ours.recall,
                "twins_served": ours.wrong_hits,
                "precision_without_guards": plain.precision,
                "twins_served_without_guards": plain.wrong_hits,
            }
        )
    return figures
