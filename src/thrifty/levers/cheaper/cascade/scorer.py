"""The learned scorer: a logistic regression fitted on replay records by
``thrifty eval route --fit-cascade`` (:mod:`~thrifty.levers.cheaper.cascade.fit`), read
back here for live decisions.

It is the evaluated strategy itself: the state of :class:`thrifty.eval.route.cascades.Cascade`
(``scorer-cascade`` with a cheap tier of one model, or two called together), whose
confidence is the probability that the accepted cheap answer is right, read from the prompt,
the answers' agreement and the accepted answer (text signs of a wrong answer and TF-IDF terms
of both).  The file also holds the threshold fitted for each quality target
(a share of the strongest model's quality on the fitting rows); the task's
``target_quality`` picks one.  Needs the ``cascade`` extra (numpy, scikit-learn).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thrifty.levers.cheaper.cascade.answers import TierAnswer
from thrifty.levers.cheaper.cascade.signals import SignalError, Verdict, read_json_object
from thrifty.types import ChatRequest

if TYPE_CHECKING:
    from thrifty.eval.route.cascades import ScorerState

FORMAT = "thrifty-cascade-scorer"
VERSION = 1
MAX_FILE_BYTES = 64 * 2**20
MAX_CHEAP = 2  # the cheap tier: tier 0's model, and the agreement model alongside it


def target_key(share: float) -> str:
    """How a quality target is written in the file: ``0.95`` -> ``"0.95"``."""
    return f"{share:.4g}"


@dataclass(frozen=True)
class FittedScorer:
    cheap_models: tuple[str, ...]  # the cheap tier, in the fitted order (best on train first)
    strong_model: str
    thresholds: Mapping[str, float]  # target_key(share) -> threshold on P(right)
    state: ScorerState

    def decide(self, prompt: str, answers: Sequence[str]) -> tuple[float, int]:
        """P(the accepted answer is right) and which answer is accepted (its index in
        :attr:`cheap_models`), as ``Cascade.decide_one`` computes them: the plurality final
        answer (ties: the first), then the agreement pattern, the share agreeing, the share
        of distinct answers and the accepted answer's text features."""
        import numpy as np

        from thrifty.eval.route.answers import final_answer, text_features
        from thrifty.eval.route.routers import sigmoid

        finals = [final_answer(text) for text in answers]
        top, votes = Counter(finals).most_common(1)[0]
        pick = finals.index(top)
        agree = [float(final == top) for final in finals]
        shape = [*agree, votes / len(finals), len(set(finals)) / len(finals)]
        dense = np.array([*shape, *text_features(prompt, answers[pick])])
        logit = self.state.score_one(dense, prompt, answers[pick])
        return float(sigmoid(np.array([logit]))[0]), pick

    def probability(self, prompt: str, answer: str) -> float:
        """P(right) of a one-model tier's answer."""
        return self.decide(prompt, [answer])[0]

    def threshold_for(self, share: float | None) -> float:
        if share is None:
            if len(self.thresholds) != 1:
                raise SignalError(
                    f"the scorer has thresholds for targets {sorted(self.thresholds)}: "
                    "set target_quality to one of them"
                )
            return next(iter(self.thresholds.values()))
        key = target_key(share)
        if key not in self.thresholds:
            raise SignalError(
                f"target_quality {key} was not fitted (the scorer has {sorted(self.thresholds)}):"
                " refit with --target-quality"
            )
        return self.thresholds[key]


def _vectorizer(terms: object) -> Any:
    if terms is None:
        return None
    import numpy as np

    from thrifty.eval.route.routers import text_vectorizer

    if not isinstance(terms, dict) or not isinstance(terms.get("vocabulary"), dict):
        raise SignalError("scorer terms must hold a vocabulary")
    vectorizer = text_vectorizer()
    vectorizer.vocabulary_ = {str(k): int(v) for k, v in terms["vocabulary"].items()}
    vectorizer.idf_ = np.asarray(terms["idf"], dtype=float)
    if len(vectorizer.idf_) != len(vectorizer.vocabulary_):
        raise SignalError("scorer terms: idf and vocabulary differ in size")
    return vectorizer


def scorer_state(data: Mapping[str, Any]) -> ScorerState:
    """A :class:`ScorerState` from its JSON form (see :func:`fit.state_json`)."""
    import numpy as np

    from thrifty.eval.route.cascades import ScorerState

    state = ScorerState(
        mean=np.asarray(data["mean"], dtype=float),
        scale=np.asarray(data["scale"], dtype=float),
        weights=np.asarray(data["weights"], dtype=float),
        intercept=float(data["intercept"]),
        prompt_terms=_vectorizer(data.get("prompt_terms")),
        answer_terms=_vectorizer(data.get("answer_terms")),
    )
    width = len(state.mean) + sum(
        len(t.idf_) for t in (state.prompt_terms, state.answer_terms) if t is not None
    )
    if len(state.scale) != len(state.mean) or len(state.weights) != width:
        raise SignalError("scorer weights do not match its features")
    state.finish()
    return state


def load_scorer(path: Path) -> FittedScorer:
    """The scorer in ``path``; :class:`SignalError` names what is wrong with the file."""
    data = read_json_object(path, MAX_FILE_BYTES, "scorer")
    if data.get("format") != FORMAT:
        raise SignalError(f"{path}: not a cascade scorer (thrifty eval route --fit-cascade)")
    if data.get("version") != VERSION:
        raise SignalError(f"{path}: scorer version {data.get('version')!r}, expected {VERSION}")
    try:
        import numpy  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as error:
        raise SignalError(
            f"the learned scorer needs {error.name}: pip install 'thrifty[cascade]'"
        ) from None
    try:
        thresholds = {str(k): float(v) for k, v in data["thresholds"].items()}
        cheap = tuple(str(m) for m in data["cheap_models"])
        if not 1 <= len(cheap) <= MAX_CHEAP:
            raise ValueError(f"{len(cheap)} cheap models")
        return FittedScorer(
            cheap_models=cheap,
            strong_model=str(data["strong_model"]),
            thresholds=thresholds,
            state=scorer_state(data["scorer"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SignalError(f"{path}: malformed scorer ({error!r})") from None


class ScorerCheck:
    """The learned scorer as a signal: accept when P(right) reaches the threshold.  A
    scorer fitted on two cheap models judges both answers together (:meth:`judge_pair`)."""

    name = "scorer"

    def __init__(self, scorer: FittedScorer, threshold: float) -> None:
        self.scorer = scorer
        self.threshold = threshold

    def judge(self, request: ChatRequest, answer: TierAnswer) -> Verdict:
        return self.judge_pair([answer])[0]

    def judge_pair(self, answers: Sequence[TierAnswer]) -> tuple[Verdict, int]:
        """The verdict on the tier's answers (in :attr:`FittedScorer.cheap_models` order)
        and the index of the one accepted."""
        p, pick = self.scorer.decide(answers[0].prompt, [a.text for a in answers])
        return Verdict.of(p >= self.threshold, f"scorer {p:.3f} vs {self.threshold:.3f}"), pick
