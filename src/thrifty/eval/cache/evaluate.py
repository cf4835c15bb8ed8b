"""The figures of `thrifty eval cache`, computed from pairs and their embeddings.

Both protocols of the evaluation data's README:

* **pair protocol**: ``text_a`` is cached, ``text_b`` is the new query.  A hit serves
  ``text_a``'s answer: right on a duplicate pair, a false hit otherwise.  The guarded cache
  (guards, then a calibrated threshold) is compared with the plain cosine threshold on the
  same embeddings, each calibrated on the calibration half for each target false-hit rate
  and measured on the held-out half.
* **whole-cache protocol**: every distinct held-out ``text_a`` goes into one index; each
  held-out ``text_b`` of a pair is looked up against all of them, as the cache does (the
  nearest candidates, guards, threshold).  A hit is right only when it returns the
  ``text_a`` of a duplicate pair of that query.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from thrifty.eval.cache.noise import label_noise
from thrifty.eval.cache.pairs import Pair, split_of
from thrifty.eval.cache.swaps import swap_set
from thrifty.levers.fewer_calls.semantic.calibration import calibrate
from thrifty.levers.fewer_calls.semantic.guards import veto
from thrifty.levers.fewer_calls.semantic.index import usearch_index

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from thrifty.levers.fewer_calls.semantic.embedder import Embedder, Vectors

__all__ = ["Scored", "curve", "measure", "score_pairs", "whole_cache"]

CURVE_STEPS = 101  # thresholds 0.50, 0.505, ..., 1.00


@dataclass(frozen=True, slots=True)
class Scored:
    """Pairs with their cosine similarity and whether the guards let them through."""

    pairs: Sequence[Pair]
    similarity: npt.NDArray[np.float32]
    passes: npt.NDArray[np.bool_]
    same: npt.NDArray[np.bool_]

    def subset(self, keep: npt.NDArray[np.bool_]) -> Scored:
        return Scored(
            [p for p, k in zip(self.pairs, keep, strict=True) if k],
            self.similarity[keep],
            self.passes[keep],
            self.same[keep],
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


def outcome(scored: Scored, threshold: float | None, guarded: bool) -> Outcome:
    duplicates = int(scored.same.sum())
    if threshold is None:
        return Outcome(None, 0, 0, duplicates)
    hit = scored.similarity >= threshold
    if guarded:
        hit &= scored.passes
    return Outcome(threshold, int(hit.sum()), int((hit & ~scored.same).sum()), duplicates)


def curve(scored: Scored, guarded: bool) -> list[Outcome]:
    import numpy as np

    return [outcome(scored, float(t), guarded) for t in np.linspace(0.5, 1.0, CURVE_STEPS)]


def baseline_precision_at(scored: Scored, recall: float) -> float | None:
    """The plain cosine threshold's best precision among thresholds reaching ``recall``."""
    reached = [o.precision for o in curve(scored, False) if o.recall >= recall and o.precision]
    return max(reached) if reached else None


@dataclass(slots=True)
class Report:
    pairs: int
    calibration_pairs: int
    held_out_pairs: int
    targets: list[dict[str, Any]] = field(default_factory=list)
    curve_guarded: list[Outcome] = field(default_factory=list)
    curve_cosine: list[Outcome] = field(default_factory=list)
    swap: dict[str, Any] = field(default_factory=dict)
    whole_cache: dict[str, Any] = field(default_factory=dict)
    speed: dict[str, Any] = field(default_factory=dict)
    label_noise: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[float, float | None] = field(default_factory=dict)


def measure(scored: Scored, targets: Sequence[float], *, min_hits: int = 30) -> Report:
    """Calibrate on one half, report on the other (pair protocol and swap set)."""
    import numpy as np

    halves = np.array([split_of(p.id) == "calibration" for p in scored.pairs])
    calibration, held_out = scored.subset(halves), scored.subset(~halves)
    guarded_pool = calibration.subset(calibration.passes)
    guarded = calibrate(
        guarded_pool.similarity.tolist(), guarded_pool.same.tolist(), targets, min_hits=min_hits
    )
    cosine = calibrate(
        calibration.similarity.tolist(), calibration.same.tolist(), targets, min_hits=min_hits
    )
    report = Report(len(scored.pairs), len(calibration.pairs), len(held_out.pairs))
    report.thresholds = guarded
    for target in targets:
        ours = outcome(held_out, guarded[target], guarded=True)
        plain = outcome(held_out, cosine[target], guarded=False)
        report.targets.append(
            {
                "target_false_hit_rate": target,
                "threshold": guarded[target],
                "realised_false_hit_rate": ours.false_hit_rate,
                "recall": ours.recall,
                "precision": ours.precision,
                "hits": ours.hits,
                "cosine_baseline": plain.as_json(),
                "cosine_precision_at_equal_recall": baseline_precision_at(held_out, ours.recall),
            }
        )
    report.label_noise = label_noise(calibration, held_out, guarded, min_hits=min_hits)
    report.curve_guarded = curve(held_out, True)
    report.curve_cosine = curve(held_out, False)
    return report


def swap_figures(
    held_out: Sequence[Pair], vectors: dict[str, Vectors], thresholds: dict[float, float | None]
) -> dict[str, Any]:
    """Precision on the held-out duplicates mixed with their trap twins, per target."""
    mixed = swap_set(held_out)
    pairs = [pair for pair, _ in mixed]
    scored = score_pairs(pairs, vectors)
    kinds: dict[str, int] = {}
    for _, kind in mixed:
        kinds[kind] = kinds.get(kind, 0) + 1
    figures: dict[str, Any] = {"pairs": len(pairs), "kinds": kinds, "targets": []}
    for target, threshold in thresholds.items():
        ours = outcome(scored, threshold, guarded=True)
        plain = outcome(scored, threshold, guarded=False)
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


def whole_cache(
    held_out: Sequence[Pair],
    vectors: dict[str, Vectors],
    thresholds: dict[float, float | None],
    *,
    candidates: int = 4,
) -> dict[str, Any]:
    """The whole-cache protocol on the held-out pairs (see the module docstring)."""
    import numpy as np

    Index = usearch_index()

    cached = list(dict.fromkeys(p.text_a for p in held_out))
    index = Index(ndim=len(next(iter(vectors.values()))), metric="cos", dtype="f32")
    index.add(np.arange(len(cached), dtype=np.uint64), np.stack([vectors[t] for t in cached]))
    right = {(p.text_b, p.text_a) for p in held_out if p.same}
    queries = list(dict.fromkeys(p.text_b for p in held_out))
    answerable = {text_b for text_b, _ in right}
    started = time.perf_counter()
    found = index.search(np.stack([vectors[q] for q in queries]), candidates)
    search_s = time.perf_counter() - started
    figures: dict[str, Any] = {
        "cached": len(cached),
        "queries": len(queries),
        "answerable_queries": len(answerable),
        "search_ms_per_query": 1000 * search_s / max(1, len(queries)),
        "targets": [],
    }
    for target, threshold in thresholds.items():
        hits = wrong = 0
        for row, query in enumerate(queries):
            query_vector = vectors[query]
            for key in found.keys[row][:candidates]:
                text = cached[int(key)]
                if threshold is None or float(vectors[text] @ query_vector) < threshold:
                    break
                if veto(text, query) is None:
                    hits += 1
                    wrong += (query, text) not in right
                    break
        figures["targets"].append(
            {
                "target_false_hit_rate": target,
                "hits": hits,
                "realised_false_hit_rate": wrong / hits if hits else None,
                "recall": (hits - wrong) / len(answerable) if answerable else 0.0,
            }
        )
    return figures


def lookup_speed(
    embedder: Embedder, queries: Sequence[str], index_size: int, *, sample: int = 200
) -> dict[str, Any]:
    """Single-query latency of embedding + nearest search in an index of ``index_size``
    random unit vectors (p50 and p95, milliseconds), and lookups per second."""
    import numpy as np

    Index = usearch_index()

    rng = np.random.default_rng(0)
    filler = rng.standard_normal((index_size, embedder.dimensions)).astype(np.float32)
    filler /= np.linalg.norm(filler, axis=1, keepdims=True)
    index = Index(ndim=embedder.dimensions, metric="cos", dtype="f32")
    index.add(np.arange(index_size, dtype=np.uint64), filler)
    timings = []
    for query in list(queries)[:sample]:
        started = time.perf_counter()
        vector = embedder.embed([query])[0]
        index.search(vector, 4)
        timings.append(time.perf_counter() - started)
    ordered = sorted(timings)
    return {
        "index_entries": index_size,
        "lookups": len(ordered),
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p95_ms": 1000 * ordered[int(len(ordered) * 0.95)],
        "lookups_per_s": len(ordered) / sum(ordered),
    }
