"""What the learned router's tests share: replay records over real model names, a small
deterministic embedder, and router files fitted on them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np

from thrifty.eval.route.records import ModelOutcome, RouteRecord
from thrifty.eval.route.table import OutcomeTable
from thrifty.levers.cheaper.learned.command import fit_router, target_names
from thrifty.levers.cheaper.learned.predictors import EmbeddingRouter, file_from_router
from thrifty.levers.cheaper.learned.router_file import RouterFile, save_router

SMALL, LARGE = "gpt-4o-mini", "gpt-4o"
COSTS = {SMALL: Decimal("0.0003"), LARGE: Decimal("0.005")}
WORDS = ("easy", "sum", "hard", "proof", "theorem", "numbers", "of", "number")


def routing_records(n: int, offset: int = 0, split: str | None = None) -> list[RouteRecord]:
    """Easy prompts: both models are right.  Hard prompts (every third): only the large one."""
    records = []
    for k in range(offset, offset + n):
        hard = k % 3 == 0
        prompt = f"{'hard proof of theorem' if hard else 'easy sum of numbers'} number {k}"
        outcomes = {
            SMALL: ModelOutcome(0.0 if hard else 1.0, COSTS[SMALL], "B" if hard else "A"),
            LARGE: ModelOutcome(1.0, COSTS[LARGE], "A"),
        }
        records.append(RouteRecord(f"q{k}", prompt, outcomes, split))
    return records


class WordEmbedder:
    """Unit vectors of word counts over :data:`WORDS` (a stand-in for MiniLM in tests)."""

    model_id = "word-counts"
    dimensions = len(WORDS)

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:  # type: ignore[type-arg]
        self.texts.extend(texts)
        rows = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for i, text in enumerate(texts):
            words = text.lower().split()
            rows[i] = [words.count(w) for w in WORDS]
        norms = np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return rows / norms


@functools.cache
def fitted(features: str = "tfidf") -> RouterFile:
    """A router fitted on :func:`routing_records` (once per test run: fitting takes seconds
    on a busy machine; do not mutate it)."""
    from thrifty.eval.route.routers import PromptRouter

    train = OutcomeTable.from_records(routing_records(90))
    router = EmbeddingRouter(WordEmbedder()) if features == "minilm" else None
    strategy = router or PromptRouter("logreg")
    fit_router(train, strategy)
    return file_from_router(strategy, target_names(), {"source": "test", "rows": len(train)})


def saved(path: Path, features: str = "tfidf") -> Path:
    save_router(fitted(features), path)
    return path
