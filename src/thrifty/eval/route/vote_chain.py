"""A vote chain: call cheap models one at a time and weigh what they answered with a
naive-Bayes posterior over the answer options, for answers that are one of a few options
(multiple choice).

After each cheap answer, the posterior of every option given the answers so far is the
train prior of the right option times, per model called, the probability that the model
gives the answer it gave when that option is right (its confusion between options, fitted
on train: a model that says "A" when unsure makes an "A" weaker evidence).  The chain
accepts the most probable option that a called model gave when its posterior reaches ``t``;
calls the strongest model straight away when it is below ``u`` (the cheap models are lost
on this query); else calls the next cheap model, and after the last one the strongest.
Every call is paid.

The chain (1 to :data:`MAX_CHAIN` of the :data:`POOL_SIZE` best cheap models, in order) and
``(t, u)`` are chosen on train from out-of-fold posteriors (confusions fitted on the other
folds): for the strategy's own target, the cheapest chain and thresholds whose out-of-fold
train quality reaches it.  The test frontier sweeps ``(t, u)`` over a fixed grid for that
chain.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from thrifty.eval.route.answers import final_answer
from thrifty.eval.route.cascades import CORRECT, cascade_pool
from thrifty.eval.route.strategies import FOLDS, Plan, Setting, Strategy
from thrifty.eval.route.table import FloatArray, IntArray, OutcomeTable, QueryView

MAX_CHAIN = 4
POOL_SIZE = 6
MAX_OPTIONS = 8
OPTION_SHARE = 0.01  # an answer is an option when at least this share of answers give it
COVERAGE = 0.9  # options must cover this share of the cheap answers (else: free text)
SMOOTHING = 0.5
ACCEPT = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 2.0)
GIVE_UP = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def chain_pool(train: OutcomeTable) -> list[int]:
    """The cheap models a chain may call: the :data:`POOL_SIZE` best of the cascade pool."""
    quality = train.mean_quality()
    return sorted(cascade_pool(train), key=lambda j: -quality[j])[:POOL_SIZE]


def answer_options(train: OutcomeTable, models: Sequence[int]) -> tuple[str, ...] | None:
    """The few answers ``models`` give on train (most frequent first), or ``None`` when
    their answers are free text rather than one of a few options."""
    said = Counter(final_answer(texts[j]) for texts in train.responses for j in models)
    total = sum(said.values())
    if not total:
        return None
    common = [a for a, k in said.most_common(MAX_OPTIONS) if k >= OPTION_SHARE * total]
    covered = sum(said[a] for a in common)
    return tuple(common) if len(common) >= 2 and covered >= COVERAGE * total else None


class OptionCodes:
    """Answers as option numbers: an option's index, or ``len(options)`` for another
    answer (each text parsed once)."""

    def __init__(self, options: Sequence[str]) -> None:
        self.options = tuple(options)
        self._parsed: dict[str, int] = {}

    def code(self, text: str) -> int:
        if (code := self._parsed.get(text)) is None:
            answer = final_answer(text)
            code = self.options.index(answer) if answer in self.options else len(self.options)
            self._parsed[text] = code
        return code

    def of_table(self, table: OutcomeTable) -> IntArray:
        """Every model's answer on every row of ``table`` (a strategy reads train rows
        only: test rows are read through views, one paid call at a time)."""
        return np.array([[self.code(t) for t in texts] for texts in table.responses])


@dataclass(frozen=True)
class Confusions:
    """Per model, log P(says option k, or another answer | option g is right), and the log
    prior of the right option; fitted on train rows."""

    log_said: FloatArray  # [models, options, options + 1]
    log_prior: FloatArray  # [options]

    @classmethod
    def fit(cls, codes: IntArray, scores: FloatArray, options: int) -> Confusions:
        """``codes[i, j]``: model j's answer on row i as an option number (``options`` for
        another answer).  The right option of a row is the answer of a model scored right."""
        counts = np.full((codes.shape[1], options, options + 1), SMOOTHING)
        prior = np.ones(options)
        for row, answers in enumerate(codes):
            right = [int(a) for a, s in zip(answers, scores[row], strict=True) if s >= CORRECT]
            right = [a for a in right if a < options]
            if right:
                counts[np.arange(len(answers)), right[0], answers] += 1.0
                prior[right[0]] += 1.0
        log_said = np.log(counts / counts.sum(axis=2, keepdims=True))
        return cls(log_said, np.log(prior / prior.sum()))

    def stages(self, codes: IntArray, chain: Sequence[int]) -> tuple[FloatArray, IntArray]:
        """Per stage of ``chain`` and row: the posterior of the best option a called model
        gave (0 when none gave an option), and which model of the chain gave it first."""
        n, options = len(codes), self.log_prior.size
        log_post = np.tile(self.log_prior, (n, 1))
        said = np.zeros((n, options), dtype=bool)
        first = np.full((n, options), -1, dtype=np.int64)
        confidence, served = np.zeros((len(chain), n)), np.zeros((len(chain), n), dtype=np.int64)
        rows = np.arange(n)
        for stage, model in enumerate(chain):
            answer = codes[:, model]
            log_post = log_post + self.log_said[model][:, answer].T
            valid = answer < options
            fresh = valid & ~said[rows, np.minimum(answer, options - 1)]
            first[rows[fresh], answer[fresh]] = stage
            said[rows[valid], answer[valid]] = True
            post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
            post /= post.sum(axis=1, keepdims=True)
            masked = np.where(said, post, -1.0)
            best = masked.argmax(axis=1)
            confidence[stage] = np.maximum(masked[rows, best], 0.0)
            served[stage] = np.where(said.any(axis=1), first[rows, best], 0)
        return confidence, served


GRID = np.array(list(itertools.product(ACCEPT, GIVE_UP)))  # [settings, (t, u)]


def grid_outcomes(
    confidence: FloatArray,
    served_score: FloatArray,
    chain: Sequence[int],
    table: OutcomeTable,
    strongest: int,
) -> tuple[FloatArray, FloatArray]:
    """Quality and cost of ``chain`` on ``table``'s rows at every ``(t, u)`` of :data:`GRID`
    at once; ``served_score[stage, i]``: the score of the answer accepted at that stage."""
    accept, give_up = GRID[:, :1], GRID[:, 1:]
    active = np.ones((len(GRID), confidence.shape[1]), dtype=bool)
    escalated = np.ones_like(active)
    right, cost = np.zeros(len(GRID)), np.zeros(len(GRID))
    for stage, model in enumerate(chain):
        cost += active @ table.costs[:, model]
        taken = active & (confidence[stage] >= accept)
        right += taken @ served_score[stage]
        escalated &= ~taken
        active &= ~taken
        if stage < len(chain) - 1:
            active &= ~(confidence[stage] < give_up)
    cost += escalated @ table.costs[:, strongest]
    right += escalated @ table.scores[:, strongest]
    return right / confidence.shape[1], cost


Key = tuple[tuple[int, ...], float, float]  # chain, t, u


def chain_outcomes(
    table: OutcomeTable,
    pool: Sequence[int],
    strongest: int,
    stages: Callable[[tuple[int, ...]], tuple[FloatArray, IntArray]],
) -> dict[Key, tuple[float, float]]:
    """Quality and cost on ``table`` of every chain of 1 to :data:`MAX_CHAIN` of ``pool``'s
    models at every ``(t, u)`` of :data:`GRID`, shortest chains first; ``stages(chain)``:
    its confidence and served stage per row (:meth:`Confusions.stages`)."""
    rows = np.arange(len(table))
    results: dict[Key, tuple[float, float]] = {}
    for size in range(1, MAX_CHAIN + 1):
        for chain in itertools.permutations(pool, size):
            confidence, served = stages(chain)
            served_score = table.scores[rows, np.asarray(chain)[served]]
            quality, cost = grid_outcomes(confidence, served_score, chain, table, strongest)
            for k, (accept, give_up) in enumerate(GRID):
                results[chain, float(accept), float(give_up)] = (quality[k], cost[k])
    return results


class VoteChain(Strategy):
    kind = "cascade"

    def __init__(self, target: str) -> None:
        self.target = target
        self.name = f"vote-chain@{target}"

    def _fit(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        pool = chain_pool(train)
        found = answer_options(train, pool)
        if found is None:
            raise ValueError(f"{self.name}: the cheap answers are not one of a few options")
        self.coder = OptionCodes(found)
        codes = self.coder.of_table(train)
        folds = np.random.default_rng(1).permutation(len(train)) % FOLDS
        fitted = [
            (
                np.flatnonzero(folds == fold),
                Confusions.fit(codes[folds != fold], train.scores[folds != fold], len(found)),
            )
            for fold in range(FOLDS)
        ]

        def out_of_fold(chain: tuple[int, ...]) -> tuple[FloatArray, IntArray]:
            confidence = np.zeros((len(chain), len(train)))
            served = np.zeros((len(chain), len(train)), dtype=np.int64)
            for part, confusions in fitted:
                confidence[:, part], served[:, part] = confusions.stages(codes[part], chain)
            return confidence, served

        results = chain_outcomes(train, pool, self.strongest, out_of_fold)
        self.chain = pick(results, targets[self.target])[0]
        own = {key: o for key, o in results.items() if key[0] == self.chain}
        self.picks = {target: pick(own, level)[1:] for target, level in targets.items()}
        self.confusions = Confusions.fit(codes, train.scores, len(found))

    def plan(self, views: Sequence[QueryView]) -> Plan:
        settings = []
        stages: dict[tuple[int, ...], tuple[float, int]] = {}
        for accept, give_up in GRID:
            label = setting_label(accept, give_up)
            chosen = np.zeros(len(views), dtype=np.int64)
            called = np.zeros((len(views), len(self.models)), dtype=bool)
            for i, view in enumerate(views):
                chosen[i], models = self.decide(view.fork(label), accept, give_up, stages)
                called[i, models] = True
            settings.append(Setting(label, chosen, called))
        picked = {t: setting_label(a, u) for t, (a, u) in self.picks.items()}
        return Plan(settings, picked)

    def decide(
        self,
        view: QueryView,
        accept: float,
        give_up: float,
        memo: dict[tuple[int, ...], tuple[float, int]] | None = None,
    ) -> tuple[int, list[int]]:
        """One query: the model whose answer is served, and the models called in order.
        ``memo`` keeps the posterior of each sequence of answers already seen."""
        memo = {} if memo is None else memo
        said: list[int] = []
        for model in self.chain:
            said.append(self.coder.code(view.response(self.models[model])))
            key = tuple(said)
            if (found := memo.get(key)) is None:
                codes = np.full((1, len(self.models)), len(self.coder.options), dtype=np.int64)
                codes[0, list(self.chain[: len(said)])] = said
                confidence, served = self.confusions.stages(codes, self.chain[: len(said)])
                found = memo[key] = (float(confidence[-1, 0]), int(served[-1, 0]))
            if found[0] >= accept:
                return self.chain[found[1]], list(self.chain[: len(said)])
            if found[0] < give_up:
                break
        return self.strongest, [*self.chain[: len(said)], self.strongest]


def setting_label(accept: float, give_up: float) -> str:
    return f"t={float(accept)!r},u={float(give_up)!r}"


def pick(results: Mapping[Key, tuple[float, float]], level: float) -> Key:
    """The cheapest setting whose quality reaches ``level``; if none does, the best one."""
    met = [(cost, key) for key, (quality, cost) in results.items() if quality >= level]
    if met:
        return min(met)[1]
    return max(results, key=lambda key: (results[key][0], -results[key][1]))
