"""Semantic cache index: search CPU and how often the index finds the true nearest entry,
for each vector precision and search width, against an exact scan in the same run.

    .venv/bin/python bench/semantic_index.py [--entries 20000] [--queries 1000] [--out F]

Two sets of vectors, each split into stored entries and queries:

* ``random``: unit vectors drawn at random, each query made at a set cosine (0.95, 0.8)
  to one stored entry: the hardest case for a graph index (no structure to follow);
* ``real``: MiniLM vectors of Quora questions, read from those ``thrifty eval cache`` keeps
  in ``~/.cache/thrifty-eval/all-MiniLM-L6-v2-onnx-int8`` (left out when there are none);
  a query's true nearest entry is found by an exact scan, and its agreement is reported for
  the queries whose nearest entry is at cosine 0.9 or more (the ones a cache could answer).

For each index precision (``f32``, ``f16``) the index is built as the store builds it
(``expansion_add`` 32, two threads here to save time), then searched at ``expansion_search``
16, 32 and 64 (the store uses 64): CPU p50 of one search (the calling thread), and the
share of queries whose first result is the true nearest entry.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from thrifty.levers.fewer_calls.semantic.index import EXPANSION_ADD, usearch_index
from thrifty.levers.fewer_calls.semantic.models import MINILM_L6_ID

EVAL_CACHE = Path.home() / ".cache" / "thrifty-eval" / MINILM_L6_ID
DIMENSIONS = 384

Array = np.ndarray[Any, Any]


def random_set(entries: int, queries: int, cosine: float) -> tuple[Array, Array, Array]:
    rng = np.random.default_rng(7)
    stored = rng.standard_normal((entries, DIMENSIONS)).astype(np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    targets = rng.integers(0, entries, queries)
    noise = rng.standard_normal((queries, DIMENSIONS)).astype(np.float32)
    noise -= (noise * stored[targets]).sum(axis=1, keepdims=True) * stored[targets]
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    made = cosine * stored[targets] + np.sqrt(1 - cosine**2) * noise
    return stored, made.astype(np.float32), targets


def real_set(entries: int, queries: int) -> tuple[Array, Array, Array] | None:
    parts = []
    for file in sorted(EVAL_CACHE.glob("*.npz")):
        vectors = np.load(file)["vectors"]
        if vectors.ndim == 2 and vectors.shape[1] == DIMENSIONS:
            parts.append(np.asarray(vectors, dtype=np.float32))
    if not parts:
        return None
    every = np.unique(np.concatenate(parts), axis=0)
    np.random.default_rng(5).shuffle(every)
    asked, stored = every[:queries], every[queries : queries + entries]
    similarity = stored @ asked.T
    nearest = similarity.argmax(axis=0)
    close = similarity.max(axis=0) >= 0.9
    return stored, asked[close], nearest[close]


def measure(stored: Array, asked: Array, truth: Array, dtype: str) -> dict[str, Any]:
    index = usearch_index()(ndim=DIMENSIONS, metric="cos", dtype=dtype, expansion_add=EXPANSION_ADD)
    started = time.perf_counter()
    index.add(np.arange(len(stored), dtype=np.uint64), stored, threads=2)
    figures: dict[str, Any] = {"build_s": time.perf_counter() - started}
    for width in (16, 32, 64):
        index.expansion_search = width
        cpu, first = [], []
        for query in asked:
            began = time.thread_time()
            found = index.search(query, 4)
            cpu.append(time.thread_time() - began)
            first.append(int(found.keys[0]) if len(found.keys) else -1)
        figures[f"width {width}"] = {
            "cpu_p50_ms": 1000 * statistics.median(cpu),
            "found_nearest": float(np.mean(np.array(first) == truth)),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sets = {
        f"random, query at {cosine}": random_set(args.entries, args.queries, cosine)
        for cosine in (0.95, 0.8)
    }
    real = real_set(args.entries, args.queries)
    if real is not None:
        sets["real, nearest at 0.9 or more"] = real
    results: dict[str, Any] = {}
    for name, (stored, asked, truth) in sets.items():
        print(f"{name}: {len(stored)} entries, {len(asked)} queries")
        for dtype in ("f32", "f16"):
            figures = measure(stored, asked, truth, dtype)
            results[f"{name} / {dtype}"] = figures
            shown = "  ".join(
                f"width {w}: {figures[f'width {w}']['cpu_p50_ms']:.3f} ms, "
                f"{figures[f'width {w}']['found_nearest']:.3f}"
                for w in (16, 32, 64)
            )
            print(f"  {dtype} (built in {figures['build_s']:.0f} s)  {shown}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
