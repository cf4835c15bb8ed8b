"""Prompt routers, fitted for ``thrifty eval route`` and restored for live decisions.

The decision is ``thrifty eval route``'s prompt router (:class:`PromptRouter`): one logistic
regression per candidate model predicts "answers correctly" from the prompt; the query goes
to the cheapest candidate predicted adequate (p >= threshold), else to the strongest model.
Two kinds of prompt features:

* ``tfidf``: the evaluation's own ``prompt-router-logreg`` (TF-IDF word 1-2 grams), restored
  from the router file into the same classes (no scikit-learn fitting at run time; its
  analyzer does the tokenising);
* ``minilm``: :class:`EmbeddingRouter`, the same decision on the semantic cache's MiniLM
  sentence embeddings (:class:`~thrifty.levers.fewer_calls.semantic.embedder.Embedder`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from thrifty.eval.route.routers import (
    CORRECT,
    LinearRouterState,
    PromptRouter,
    fit_logistic,
    frontier_models,
    sigmoid,
)
from thrifty.eval.route.strategies import ThresholdStrategy
from thrifty.eval.route.table import FloatArray, OutcomeTable, QueryView
from thrifty.eval.route.tasks import TaskColumns
from thrifty.levers.cheaper.learned.router_file import RouterFile, RouterFileError

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Embedder

__all__ = ["EmbeddingRouter", "LiveRouter", "file_from_router", "live_router", "restricted"]

EMBED_BATCH = 64
DIGITS = 9


@dataclass
class DenseLinearState:
    """Logistic weights on dense features: ``weights`` is [features, candidates]."""

    weights: FloatArray
    intercepts: FloatArray

    def predict(self, features: FloatArray) -> FloatArray:
        # Rounded to 1e-9: saturated predictions (0.99999999999...) would otherwise give
        # thresholds the evaluation cannot tell apart by label; no decision turns on less.
        return np.round(sigmoid(features @ self.weights + self.intercepts), DIGITS)


class EmbeddingRouter(PromptRouter):
    """:class:`PromptRouter` (logistic) on sentence embeddings instead of TF-IDF.  Fitting
    and planning read prompts only through ``embedder`` (label-free); the vectors of the
    prompts it has seen are kept for the folds and the evaluation, never while serving."""

    def __init__(self, embedder: Embedder, seen: dict[str, FloatArray] | None = None) -> None:
        self.method = "logreg"
        self.name = "embedding-router-logreg"
        self.embedder = embedder
        # prompt -> vector; routers evaluated on several splits of one data set share it
        self._seen: dict[str, FloatArray] = {} if seen is None else seen

    def vectors(self, prompts: Sequence[str]) -> FloatArray:
        missing = list(dict.fromkeys(p for p in prompts if p not in self._seen))
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start : start + EMBED_BATCH]
            for prompt, vector in zip(batch, self.embedder.embed(batch), strict=True):
                self._seen[prompt] = np.asarray(vector, dtype=float)
        width = self.embedder.dimensions
        return np.array([self._seen[p] for p in prompts], dtype=float).reshape(-1, width)

    def _fit(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        self.candidates = frontier_models(train)
        ThresholdStrategy._fit(self, train, targets)

    def _train(self, train: OutcomeTable) -> object:
        features, targets = self.vectors(train.prompts), train.scores[:, self.candidates]
        # A unit vector's coordinates are ~1/sqrt(dimensions) each: scikit-learn's default
        # C = 1 on them shrinks every weight to nothing and the router predicts a constant.
        # C = dimensions is C = 1 on coordinates of unit scale.
        strength = float(self.embedder.dimensions)
        fitted = [
            fit_logistic(features, (targets[:, k] >= CORRECT).astype(float), c=strength)
            for k in range(len(self.candidates))
        ]
        weights = np.stack([w for w, _ in fitted], axis=1)
        return DenseLinearState(weights, np.array([b for _, b in fitted]))

    def _signals(self, state: object, views: Sequence[QueryView]) -> FloatArray:
        assert isinstance(state, DenseLinearState)
        return state.predict(self.vectors([view.prompt for view in views]))

    def decide_vector(self, vector: FloatArray, threshold: float) -> int:
        """One live decision from the prompt's embedding."""
        assert isinstance(self.state, DenseLinearState)
        signals = self.state.predict(np.asarray(vector, dtype=float)[None, :])
        return int(self._decide(signals, threshold)[0][0])

    def decide_one(self, prompt: str, threshold: float, task: str | None = None) -> int:
        """One decision from the prompt's embedding (an embedding router reads no task)."""
        return self.decide_vector(self.embedder.embed([prompt])[0], threshold)


def file_from_router(
    router: PromptRouter, targets: Mapping[float, str], trained_on: Mapping[str, Any]
) -> RouterFile:
    """The router file of a fitted logistic prompt router; ``targets`` maps each quality
    share to the name of the target it was fitted for (``{0.95: "95%"}``)."""
    thresholds = {share: float(router.thresholds[name]) for share, name in targets.items()}
    state = router.state
    common: dict[str, Any] = {
        "models": tuple(router.models),
        "candidates": tuple(int(c) for c in router.candidates),
        "strongest": int(router.strongest),
        "thresholds": thresholds,
        "trained_on": dict(trained_on),
    }
    if isinstance(router, EmbeddingRouter):
        assert isinstance(state, DenseLinearState)
        return RouterFile(
            "minilm",
            weights=state.weights.tolist(),
            intercepts=tuple(float(b) for b in state.intercepts),
            embedder=router.embedder.model_id,
            **common,
        )
    if not isinstance(state, LinearRouterState):
        raise ValueError("only logistic prompt routers are saved (prompt-router-logreg)")
    vectorizer = state.vectorizer
    low, high = vectorizer.ngram_range
    return RouterFile(
        "tfidf",
        tasks=dict(state.tasks.index) if state.tasks is not None else {},
        weights=state.weights.tolist(),
        intercepts=tuple(float(b) for b in state.intercepts),
        vocabulary={str(t): int(c) for t, c in vectorizer.vocabulary_.items()},
        idf=tuple(float(v) for v in vectorizer.idf_),
        ngram_range=(int(low), int(high)),
        **common,
    )


def restricted(router: RouterFile, names: Sequence[str], source: str) -> RouterFile:
    """``router`` allowed to pick only ``names`` among its candidates (the strongest model
    stays the fallback).  A name that is not one of its candidates is an error."""
    if not names:
        return router
    allowed = [router.models[c] for c in router.candidates]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise RouterFileError(
            f"{source}: {', '.join(map(repr, unknown))} not among the router's candidates "
            f"({', '.join(allowed)})"
        )
    keep = [k for k, c in enumerate(router.candidates) if router.models[c] in names]
    return replace(
        router,
        candidates=tuple(router.candidates[k] for k in keep),
        weights=[[row[k] for k in keep] for row in router.weights],
        intercepts=tuple(router.intercepts[k] for k in keep),
    )


class LiveRouter:
    """A router file restored for decisions: :meth:`decide` (TF-IDF, on the event loop:
    well under a millisecond) or :meth:`decide_vector` (from an embedding)."""

    def __init__(self, router: RouterFile, strategy: PromptRouter) -> None:
        self.file = router
        self.models = router.models
        self.strategy = strategy

    @property
    def embeds(self) -> bool:
        return isinstance(self.strategy, EmbeddingRouter)

    def decide(self, prompt: str, threshold: float, task: str | None = None) -> str:
        """The model for ``prompt``; a router trained with tasks also reads the request's
        task (one it was not trained on: the prompt alone decides)."""
        return self.models[self.strategy.decide_one(prompt, threshold, task)]

    def decide_vector(self, vector: FloatArray, threshold: float) -> str:
        assert isinstance(self.strategy, EmbeddingRouter)
        return self.models[self.strategy.decide_vector(vector, threshold)]


def live_router(router: RouterFile, embedder: Embedder | None = None) -> LiveRouter:
    """The live decision of ``router``; a ``minilm`` file needs the embedder it was fitted
    with."""
    weights = np.asarray(router.weights, dtype=float).reshape(-1, len(router.candidates))
    intercepts = np.asarray(router.intercepts, dtype=float)
    strategy: PromptRouter
    if router.features == "minilm":
        if embedder is None or embedder.model_id != router.embedder:
            raise RouterFileError(f"the router was fitted on {router.embedder!r} embeddings")
        if weights.shape[0] != embedder.dimensions:
            raise RouterFileError(f"the router's weights are not {embedder.dimensions} wide")
        strategy = EmbeddingRouter(embedder)
        strategy.state = DenseLinearState(weights, intercepts)
    else:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            ngram_range=router.ngram_range, sublinear_tf=True, dtype=np.float64
        )
        vectorizer.vocabulary_ = dict(router.vocabulary)
        vectorizer.idf_ = np.asarray(router.idf, dtype=float)
        strategy = PromptRouter("logreg")
        tasks = TaskColumns(dict(router.tasks)) if router.tasks else None
        strategy.state = LinearRouterState(vectorizer, weights, intercepts, tasks)
    strategy.models = router.models
    strategy.candidates = list(router.candidates)
    strategy.strongest = router.strongest
    return LiveRouter(router, strategy)
