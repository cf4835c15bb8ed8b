"""Prompt-only routers: predict, from the prompt alone, whether each candidate model answers
well, and send the query to the cheapest candidate predicted adequate (predicted score >= the
threshold), else to the strongest model.  One call per query.

Candidates are the models on the train cost-quality frontier (a model that is both dearer
and worse than another on train is never a candidate), ordered by train cost.

* ``prompt-router-logreg``: TF-IDF word 1-2 grams, one logistic regression per candidate
  (correct = score >= 0.5); prediction is one sparse product with the stacked weights.
* ``prompt-router-knn``: the mean train score of the 25 nearest train prompts (TF-IDF cosine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from thrifty.eval.route.strategies import ThresholdStrategy, one_hot
from thrifty.eval.route.table import BoolArray, FloatArray, IntArray, OutcomeTable, QueryView

NEIGHBOURS = 25
KNN_BATCH = 512
CORRECT = 0.5


def text_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, max_features=50_000, sublinear_tf=True, dtype=np.float64
    )


def frontier_models(train: OutcomeTable) -> list[int]:
    """Models not beaten on both cost and quality by another on train, cheapest first."""
    quality, cost = train.mean_quality(), train.total_cost()
    keep: list[int] = []
    for j in sorted(range(len(train.models)), key=lambda j: (cost[j], -quality[j])):
        if not keep or quality[j] > quality[keep[-1]]:
            keep.append(j)
    return keep


def fit_logistic(features: object, labels: FloatArray, c: float = 1.0) -> tuple[FloatArray, float]:
    """Weights and intercept of a logistic regression; a constant label gets zero weights and
    the (clipped) log-odds of its rate."""
    positive = float(labels.mean())
    if positive in (0.0, 1.0):
        rate = min(max(positive, 1e-3), 1 - 1e-3)
        width = features.shape[1]  # type: ignore[attr-defined]
        return np.zeros(width), float(np.log(rate / (1 - rate)))
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(features, labels)
    return np.asarray(model.coef_[0], dtype=float), float(model.intercept_[0])


def sigmoid(z: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -40, 40))), dtype=float)


@dataclass
class LinearRouterState:
    vectorizer: TfidfVectorizer
    weights: FloatArray  # [features, candidates]
    intercepts: FloatArray  # [candidates]

    def predict(self, prompts: Sequence[str]) -> FloatArray:
        features = self.vectorizer.transform(prompts)
        return sigmoid(np.asarray(features @ self.weights) + self.intercepts)


@dataclass
class NeighbourRouterState:
    vectorizer: TfidfVectorizer
    train_features: object  # sparse [train, features], rows L2-normalised
    train_scores: FloatArray  # [train, candidates]

    def predict(self, prompts: Sequence[str]) -> FloatArray:
        features = self.vectorizer.transform(prompts)
        k = min(NEIGHBOURS, self.train_scores.shape[0])
        parts = []
        for start in range(0, len(prompts), KNN_BATCH):  # bounded memory on big tables
            similarity = features[start : start + KNN_BATCH] @ self.train_features.T  # type: ignore[attr-defined]
            dense = np.asarray(similarity.toarray(), dtype=float)
            nearest = np.argpartition(-dense, k - 1, axis=1)[:, :k]
            parts.append(self.train_scores[nearest].mean(axis=1))
        return np.asarray(np.concatenate(parts), dtype=float)


class PromptRouter(ThresholdStrategy):
    kind = "router"

    def __init__(self, method: str = "logreg") -> None:
        if method not in ("logreg", "knn"):
            raise ValueError(f"unknown router method {method!r}")
        self.method = method
        self.name = f"prompt-router-{method}"

    def _fit(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        self.candidates = frontier_models(train)  # fixed before the folds
        super()._fit(train, targets)

    def _train(self, train: OutcomeTable) -> object:
        vectorizer = text_vectorizer()
        features = vectorizer.fit_transform(train.prompts)
        targets = train.scores[:, self.candidates]
        if self.method == "knn":
            return NeighbourRouterState(vectorizer, features, targets)
        fitted = [
            fit_logistic(features, (targets[:, k] >= CORRECT).astype(float))
            for k in range(len(self.candidates))
        ]
        weights = np.stack([w for w, _ in fitted], axis=1)
        return LinearRouterState(vectorizer, weights, np.array([b for _, b in fitted]))

    def _signals(self, state: object, views: Sequence[QueryView]) -> FloatArray:
        assert isinstance(state, LinearRouterState | NeighbourRouterState)
        return state.predict([view.prompt for view in views])

    def _decide(self, signals: FloatArray, threshold: float) -> tuple[IntArray, BoolArray]:
        adequate = signals >= threshold
        first = np.argmax(adequate, axis=1)
        candidates = np.array(self.candidates, dtype=np.int64)
        chosen = np.where(adequate.any(axis=1), candidates[first], self.strongest)
        chosen = chosen.astype(np.int64)
        return chosen, one_hot(chosen, len(self.models))

    def decide_one(self, prompt: str, threshold: float) -> int:
        """One live decision (the model index), as the benchmark times it."""
        return int(
            self._decide(self._signals(self.state, [QueryView(prompt, ())]), threshold)[0][0]
        )
