"""Cascades: call one to three cheap models first, accept their answer when confident, else
escalate to the strongest model.  Every call is paid: an escalated query costs the cheap
calls plus the strong one.

The accepted cheap answer is the plurality final answer among the cheap tier (ties: the
model best on train); confidence is

* ``agreement-cascade``: the share of the cheap tier that agrees with it (two or three
  models; no learning);
* ``scorer-cascade``: a logistic regression on what the cheap answers say (agreement
  pattern, vote share, :mod:`~thrifty.eval.route.answers` text features of the accepted
  answer, and TF-IDF terms of the prompt and of that answer) predicting whether the
  accepted answer is right.

The cheap tier is chosen on train for the cascade's quality target (``@98%``: 98% of the
strongest model's train quality; ``@100%``: all of it): the tier whose out-of-fold train
cost at that target is lowest (the search scores tiers without the TF-IDF terms, for speed).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from thrifty.eval.route.answers import FEATURE_NAMES, final_answer, text_features
from thrifty.eval.route.routers import fit_logistic, sigmoid, text_vectorizer
from thrifty.eval.route.strategies import ThresholdStrategy
from thrifty.eval.route.table import BoolArray, FloatArray, IntArray, OutcomeTable, QueryView
from thrifty.eval.route.terms import SingleText

MAX_TIER = 3
MAX_TIER_CANDIDATES = 5
CHEAP_SHARE = 0.5  # a tier model costs at most this share of the strongest on train
CORRECT = 0.5


@dataclass
class ScorerState:
    mean: FloatArray
    scale: FloatArray
    weights: FloatArray  # the dense features' weights, then the terms'
    intercept: float
    prompt_terms: TfidfVectorizer | None = None
    answer_terms: TfidfVectorizer | None = None
    single_prompt: SingleText | None = field(default=None, init=False)
    single_answer: SingleText | None = field(default=None, init=False)

    def features(self, dense: FloatArray, prompts: list[str], answers: list[str]) -> object:
        scaled = (dense - self.mean) / self.scale
        blocks = [sparse.csr_matrix(scaled)]
        if self.prompt_terms is not None:
            blocks.append(self.prompt_terms.transform(prompts))
        if self.answer_terms is not None:
            blocks.append(self.answer_terms.transform(answers))
        return scaled if len(blocks) == 1 else sparse.hstack(blocks).tocsr()

    def score_one(self, dense: FloatArray, prompt: str, answer: str) -> float:
        """The scorer's logit for one query, without scikit-learn's per-call overhead."""
        width = len(self.mean)
        z = float(((dense - self.mean) / self.scale) @ self.weights[:width]) + self.intercept
        for single, text in ((self.single_prompt, prompt), (self.single_answer, answer)):
            if single is not None:
                columns, values = single.vector(text)
                z += float(values @ self.weights[width + columns])
                width += len(single.idf)
        return z

    def finish(self) -> None:
        """Prepare the single-text path once the vectorizers are fitted."""
        self.single_prompt = SingleText(self.prompt_terms) if self.prompt_terms else None
        self.single_answer = SingleText(self.answer_terms) if self.answer_terms else None


def cascade_pool(train: OutcomeTable) -> list[int]:
    """The models a cheap tier may use: not the strongest, with answer text, and at most
    :data:`CHEAP_SHARE` of its train cost (else: any cheaper than it)."""
    cost, strongest = train.total_cost(), train.strongest()
    texts = [j for j in range(len(train.models)) if j != strongest and train.has_responses(j)]
    cheap = [j for j in texts if cost[j] <= CHEAP_SHARE * cost[strongest]]
    return cheap or [j for j in texts if cost[j] < cost[strongest]]


def fitted_terms(texts: list[str]) -> TfidfVectorizer | None:
    """A TF-IDF vectorizer fitted on ``texts``, or ``None`` when they have no shared term."""
    vectorizer = text_vectorizer()
    try:
        vectorizer.fit(texts)
    except ValueError:  # empty vocabulary: answers like "A" or "B" only
        return None
    return vectorizer


class Cascade(ThresholdStrategy):
    kind = "cascade"

    def __init__(
        self, target: str, learned: bool, tier: Sequence[str] | None = None, terms: bool = True
    ) -> None:
        self.target = target
        self.learned = learned
        self.terms = terms
        self._searching = False
        self.fixed_tier = tuple(tier) if tier else None
        base = "scorer-cascade" if learned else "agreement-cascade"
        self.name = f"{base}@{target}"

    # -- choosing the cheap tier on train -------------------------------------------------

    def _fit(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        # Parsed answers and text features of train rows are reused across the tier search
        # (memos live for the fit only).
        self._answers: dict[str, str] = {}
        self._features: dict[tuple[str, str], list[float]] = {}
        self._searching = True  # the search scores tiers on the dense features only
        try:
            self._search_tier(train, targets)
        finally:
            self._answers, self._features = {}, {}

    def _search_tier(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        quality = train.mean_quality()
        options = self._tier_options(train)
        if not options:
            raise ValueError(f"{self.name}: no cheap model to put before the strongest")
        level = targets[self.target]
        best: tuple[tuple[float, float, float], tuple[int, ...]] | None = None
        for tier in options:
            self.tier = tuple(sorted(tier, key=lambda j: -quality[j]))
            cost, reached = self._train_cost(train, level)
            # the cheapest tier that meets the target; if none does, the best one
            key = (0.0, 0.0, cost) if reached >= level else (1.0, -reached, cost)
            if best is None or key < best[0]:
                best = (key, self.tier)
        assert best is not None
        self.tier = best[1]
        self._searching = False
        super()._fit(train, targets)

    def _tier_options(self, train: OutcomeTable) -> list[tuple[int, ...]]:
        if self.fixed_tier:
            return [tuple(train.index(m) for m in self.fixed_tier)]
        quality = train.mean_quality()
        cheap = sorted(cascade_pool(train), key=lambda j: -quality[j])[:MAX_TIER_CANDIDATES]
        smallest = 1 if self.learned else 2
        return [
            tier
            for size in range(smallest, MAX_TIER + 1)
            for tier in itertools.combinations(cheap, size)
        ]

    def _train_cost(self, train: OutcomeTable, level: float) -> tuple[float, float]:
        """Train cost and quality of this tier at the threshold chosen for ``level``."""
        thresholds = self._choose_thresholds(train, {"t": level})
        state = self._train(train)
        chosen, called = self._decide(self._signals(state, train.views()), thresholds["t"])
        reached = float(train.scores[np.arange(len(train)), chosen].mean())
        return float((train.costs * called).sum()), reached

    # -- signals ----------------------------------------------------------------------------

    def _read_tier(
        self, views: Sequence[QueryView]
    ) -> tuple[FloatArray, IntArray, FloatArray, list[str]]:
        """Per query: the agreement share, the accepted model, the scorer's dense features,
        and the accepted answer's text."""
        n, texts_accepted = len(views), []
        share, accepted = np.zeros(n), np.zeros(n, dtype=np.int64)
        width = len(self.tier) + 2 + (len(FEATURE_NAMES) if self.learned else 0)
        features = np.zeros((n, width))
        for i, view in enumerate(views):
            texts = [view.response(self.models[j]) for j in self.tier]
            answers = [self._answer(t) for t in texts]
            top, votes = Counter(answers).most_common(1)[0]
            pick = next(k for k, a in enumerate(answers) if a == top)
            share[i], accepted[i] = votes / len(answers), self.tier[pick]
            texts_accepted.append(texts[pick])
            agree = [float(a == top) for a in answers]
            row = [*agree, share[i], len(set(answers)) / len(answers)]
            if self.learned:
                row += self._text_features(view.prompt, texts[pick])
            features[i] = row
        return share, accepted, features, texts_accepted

    def _answer(self, text: str) -> str:
        if (found := self._answers.get(text)) is None:
            found = self._answers[text] = final_answer(text)
        return found

    def _text_features(self, prompt: str, text: str) -> list[float]:
        key = (prompt, text)
        if (found := self._features.get(key)) is None:
            found = self._features[key] = text_features(prompt, text)
        return found

    def _train(self, train: OutcomeTable) -> object:
        if not self.learned:
            return None
        _, accepted, dense, answers = self._read_tier(train.views())
        labels = (train.scores[np.arange(len(train)), accepted] >= CORRECT).astype(float)
        mean, scale = dense.mean(axis=0), dense.std(axis=0)
        scale[scale == 0] = 1.0
        state = ScorerState(mean, scale, np.zeros(0), 0.0)
        if self.terms and not self._searching:
            state.prompt_terms = fitted_terms(list(train.prompts))
            state.answer_terms = fitted_terms(answers)
        features = state.features(dense, list(train.prompts), answers)
        state.weights, state.intercept = fit_logistic(features, labels)
        state.finish()
        return state

    def _signals(self, state: object, views: Sequence[QueryView]) -> FloatArray:
        share, accepted, dense, answers = self._read_tier(views)
        if isinstance(state, ScorerState):
            features = state.features(dense, [v.prompt for v in views], answers)
            z = np.asarray(features @ state.weights) + state.intercept  # type: ignore[operator]
            confidence = sigmoid(z)
        else:
            confidence = share
        return np.stack([confidence, accepted.astype(float)], axis=1)

    def _grid_values(self, signals: FloatArray) -> FloatArray:
        return np.asarray(signals[:, 0], dtype=float)

    def _decide(self, signals: FloatArray, threshold: float) -> tuple[IntArray, BoolArray]:
        n = len(signals)
        accept = signals[:, 0] >= threshold
        chosen = np.where(accept, signals[:, 1].astype(np.int64), self.strongest).astype(np.int64)
        called = np.zeros((n, len(self.models)), dtype=bool)
        called[:, list(self.tier)] = True
        called[~accept, self.strongest] = True
        return chosen, called

    def decide_one(self, view: QueryView, threshold: float) -> int:
        """One live decision (the model whose answer is served)."""
        share, accepted, dense, answers = self._read_tier([view])
        confidence = float(share[0])
        if isinstance(self.state, ScorerState):
            logit = self.state.score_one(dense[0], view.prompt, answers[0])
            confidence = float(sigmoid(np.array([logit]))[0])
        return int(accepted[0]) if confidence >= threshold else self.strongest
