"""Prompt-only routers: predict, from the prompt alone, whether each candidate model answers
well, and send the query to the cheapest candidate predicted adequate (predicted score >= the
threshold), else to the strongest model.  One call per query.

Candidates are the models on the train cost-quality frontier (a model that is both dearer
and worse than another on train is never a candidate), ordered by train cost.

* ``prompt-router-logreg``: TF-IDF word 1-2 grams, one logistic regression per candidate
  (correct = score >= 0.5); prediction is one sparse product with the stacked weights.
* ``prompt-router-knn``: the mean train score of the 25 nearest train prompts (TF-IDF cosine).
* ``prompt-router-gain``: the same logistic regressions plus one for the strongest model; the
  signal per candidate is P(candidate right) - P(strongest right), what the candidate gives up
  on this prompt.  A prompt that both models get wrong (or both right) costs nothing to send
  cheap; the logreg router, reading only P(candidate right), would pay for the strongest there.
* ``prompt-router-value``: the gain router's signal per dollar saved: a prompt's predicted
  loss is divided by what sending it cheap saves, relative to a typical prompt
  (:mod:`~thrifty.eval.route.costs`: each model's cost predicted from the prompt's length,
  fitted on train), so a long prompt, dear on the strongest model, goes cheap at a larger
  predicted loss than a short one: the most quality per dollar.

When the records name tasks (``task``: the app's ``x-thrifty-task``, seen at run time), every
router also reads the task: one one-hot column per train task after the TF-IDF terms
(:mod:`~thrifty.eval.route.tasks`), a per-task prior for the logistic routers, and for kNN a
bonus of 1 to the similarity of a neighbour of the same task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from thrifty.eval.route.costs import SavingScale
from thrifty.eval.route.strategies import ThresholdStrategy, one_hot
from thrifty.eval.route.table import BoolArray, FloatArray, IntArray, OutcomeTable, QueryView
from thrifty.eval.route.tasks import TaskColumns, with_tasks
from thrifty.eval.route.terms import SingleText

NEIGHBOURS = 25
DIGITS = 9  # gain predictions are rounded: no decision turns on less, and labels stay distinct
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


def task_column(single: SingleText, tasks: TaskColumns | None, task: str | None) -> int | None:
    """The feature column of ``task`` (after the TF-IDF terms), if it has one."""
    column = None if tasks is None else tasks.column(task)
    return None if column is None else len(single.idf) + column


@dataclass
class LinearRouterState:
    vectorizer: TfidfVectorizer
    weights: FloatArray  # [features (TF-IDF terms, then tasks), candidates]
    intercepts: FloatArray  # [candidates]
    tasks: TaskColumns | None = None

    def __post_init__(self) -> None:
        self.single = SingleText(self.vectorizer)

    def predict(self, features: object) -> FloatArray:
        return sigmoid(np.asarray(features @ self.weights) + self.intercepts)  # type: ignore[operator]

    def predict_one(self, prompt: str, task: str | None = None) -> FloatArray:
        columns, values = self.single.vector(prompt)
        z = values @ self.weights[columns] + self.intercepts
        if (column := task_column(self.single, self.tasks, task)) is not None:
            z = z + self.weights[column]
        return sigmoid(z)


@dataclass
class NeighbourRouterState:
    vectorizer: TfidfVectorizer
    train_features: object  # sparse [train, features], TF-IDF rows L2-normalised
    train_scores: FloatArray  # [train, candidates]
    tasks: TaskColumns | None = None

    def __post_init__(self) -> None:
        self.single = SingleText(self.vectorizer)
        self.by_column = self.train_features.tocsc()  # type: ignore[attr-defined]

    def predict_one(self, prompt: str, task: str | None = None) -> FloatArray:
        columns, values = self.single.vector(prompt)
        if (column := task_column(self.single, self.tasks, task)) is not None:
            columns = np.append(columns, column)
            values = np.append(values, 1.0)
        similarity = np.asarray(self.by_column[:, columns] @ values, dtype=float).ravel()
        k = min(NEIGHBOURS, len(similarity))
        nearest = np.argpartition(-similarity, k - 1)[:k]
        return np.asarray(self.train_scores[nearest].mean(axis=0), dtype=float)

    def predict(self, features: object) -> FloatArray:
        k = min(NEIGHBOURS, self.train_scores.shape[0])
        parts = []
        rows = features.shape[0]  # type: ignore[attr-defined]
        for start in range(0, rows, KNN_BATCH):  # bounded memory on big tables
            batch = features[start : start + KNN_BATCH]  # type: ignore[index]
            similarity = batch @ self.train_features.T  # type: ignore[attr-defined]
            dense = np.asarray(similarity.toarray(), dtype=float)
            nearest = np.argpartition(-dense, k - 1, axis=1)[:, :k]
            parts.append(self.train_scores[nearest].mean(axis=1))
        return np.asarray(np.concatenate(parts), dtype=float)


@dataclass
class GainRouterState(LinearRouterState):
    """:class:`LinearRouterState` over the candidates and then the strongest model (last
    column); predicts each candidate's probability of being right minus the strongest's."""

    def predict(self, features: object) -> FloatArray:
        p = super().predict(features)
        return np.asarray(np.round(p[:, :-1] - p[:, -1:], DIGITS), dtype=float)

    def predict_one(self, prompt: str, task: str | None = None) -> FloatArray:
        p = super().predict_one(prompt, task)
        return np.asarray(np.round(p[:-1] - p[-1], DIGITS), dtype=float)


@dataclass
class ValueRouterState(GainRouterState):
    """:class:`GainRouterState` whose gain is then weighed per dollar saved
    (:meth:`SavingScale.per_dollar`, the saving predicted from the prompt's length)."""

    saving: SavingScale | None = None


def per_dollar(state: object, signals: FloatArray, prompts: Sequence[str]) -> FloatArray:
    """The value router's signals per dollar saved; any other router's unchanged."""
    if isinstance(state, ValueRouterState) and state.saving is not None:
        return state.saving.per_dollar(signals, prompts)
    return signals


METHODS = ("logreg", "knn", "gain", "value")


class PromptRouter(ThresholdStrategy):
    kind = "router"

    def __init__(self, method: str = "logreg") -> None:
        if method not in METHODS:
            raise ValueError(f"unknown router method {method!r}")
        self.method = method
        self.name = f"prompt-router-{method}"

    def _fit(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        self.candidates = frontier_models(train)  # fixed before the folds
        # The vectorizer reads no label: it is fitted once on every train prompt, and the
        # folds (which fit only the predictors on part of the rows) share its features.
        self.vectorizer = text_vectorizer()
        self.task_columns = TaskColumns.fit(train.task_list())
        self._train_features: object = self.vectorizer.fit_transform(train.prompts)
        self._row_of = {prompt: i for i, prompt in enumerate(train.prompts)}
        try:
            super()._fit(train, targets)
        finally:
            self._train_features, self._row_of = None, {}

    def _features(self, prompts: Sequence[str], tasks: Sequence[str | None]) -> object:
        rows = [self._row_of.get(prompt, -1) for prompt in prompts]
        if self._train_features is not None and min(rows, default=0) >= 0:
            terms = self._train_features[rows]  # type: ignore[index]
        else:
            terms = self.vectorizer.transform(prompts)
        return with_tasks(terms, tasks, self.task_columns)

    def _train(self, train: OutcomeTable) -> object:
        vectorizer, tasks = self.vectorizer, self.task_columns
        features = self._features(train.prompts, train.task_list())
        if self.method == "knn":
            scores = train.scores[:, self.candidates]
            return NeighbourRouterState(vectorizer, features, scores, tasks)
        gain = self.method in ("gain", "value")
        columns = [*self.candidates, self.strongest] if gain else self.candidates
        fitted = [
            fit_logistic(features, (train.scores[:, j] >= CORRECT).astype(float)) for j in columns
        ]
        weights, intercepts = (
            np.stack([w for w, _ in fitted], axis=1),
            np.array([b for _, b in fitted]),
        )
        if self.method == "value":
            saving = SavingScale.fit(train.prompts, train.costs, self.candidates, self.strongest)
            return ValueRouterState(vectorizer, weights, intercepts, tasks, saving)
        state = GainRouterState if gain else LinearRouterState
        return state(vectorizer, weights, intercepts, tasks)

    def _signals(self, state: object, views: Sequence[QueryView]) -> FloatArray:
        assert isinstance(state, LinearRouterState | NeighbourRouterState)
        prompts, tasks = [view.prompt for view in views], [view.task for view in views]
        return per_dollar(state, state.predict(self._features(prompts, tasks)), prompts)

    def _decide(self, signals: FloatArray, threshold: float) -> tuple[IntArray, BoolArray]:
        adequate = signals >= threshold
        first = np.argmax(adequate, axis=1)
        candidates = np.array(self.candidates, dtype=np.int64)
        chosen = np.where(adequate.any(axis=1), candidates[first], self.strongest)
        chosen = chosen.astype(np.int64)
        return chosen, one_hot(chosen, len(self.models))

    def decide_one(self, prompt: str, threshold: float, task: str | None = None) -> int:
        """One live decision (the model index) without scikit-learn's per-call overhead."""
        assert isinstance(self.state, LinearRouterState | NeighbourRouterState)
        signals = per_dollar(self.state, self.state.predict_one(prompt, task)[None, :], [prompt])
        return int(self._decide(signals, threshold)[0][0])
