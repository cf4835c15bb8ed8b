"""The whole-cache protocol and the lookup speed of `thrifty eval cache`.

Whole-cache protocol: every distinct held-out ``text_a`` goes into one index; each
held-out ``text_b`` of a pair is looked up against all of them, as the cache does (the
nearest candidates, guards, threshold).  A hit is right only when it returns the ``text_a``
of a duplicate pair of that query.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from thrifty.eval.cache.pairs import Pair
from thrifty.levers.fewer_calls.semantic.guards import veto
from thrifty.levers.fewer_calls.semantic.index import usearch_index

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Embedder, Vectors
    from thrifty.levers.fewer_calls.semantic.scorer import PairScorer

__all__ = ["lookup_speed", "whole_cache"]


def whole_cache(
    held_out: Sequence[Pair],
    vectors: dict[str, Vectors],
    thresholds: dict[float, float | None],
    scorer: PairScorer | None = None,
    *,
    candidates: int = 4,
) -> dict[str, Any]:
    """The whole-cache protocol on the held-out pairs (see the module docstring);
    ``thresholds`` apply to ``scorer``'s probability, or to the cosine without one."""
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
                similarity = float(vectors[text] @ query_vector)
                if threshold is None:
                    break
                if scorer is None and similarity < threshold:
                    break  # the nearer candidates were below it too
                if veto(text, query) is not None:
                    continue
                if scorer is not None and scorer.score(text, query, similarity) < threshold:
                    break  # the policy answers from the first unvetoed candidate
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
