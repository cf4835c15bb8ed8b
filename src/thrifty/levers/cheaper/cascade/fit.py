"""Fit the learned scorer on replay records (``thrifty eval route --fit-cascade``).

The scorer is :class:`thrifty.eval.route.cascades.Cascade` (``scorer-cascade``) with the
cheap tier fixed to one model (or two, called together: the tier's model and the agreement
model), fitted on the train rows with its thresholds chosen on
out-of-fold train predictions for each quality target (a share of the strong model's train
quality).  The file written holds its state and those thresholds; the stage reads it with
:func:`~thrifty.levers.cheaper.cascade.scorer.load_scorer`.

When the records have test rows, each target's threshold is then replayed on them through
the stage's own decision code (:class:`~thrifty.levers.cheaper.cascade.scorer.ScorerCheck`
on a :class:`~thrifty.levers.cheaper.cascade.answers.TierAnswer`), counting both calls on
an escalation, and the file says what it got and whether any decision differed from the
evaluated strategy's (``Cascade.decide_one``), beside the best threshold chosen with the
test labels (``hindsight``: what the evaluation's frontier reads; a bound, not a setting).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thrifty.levers.cheaper.cascade.answers import TierAnswer
from thrifty.levers.cheaper.cascade.scorer import (
    FORMAT,
    MAX_CHEAP,
    VERSION,
    FittedScorer,
    ScorerCheck,
    scorer_state,
    target_key,
)
from thrifty.types import ChatRequest

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from thrifty.eval.route.cascades import Cascade, ScorerState
    from thrifty.eval.route.records import RouteRecord
    from thrifty.eval.route.table import OutcomeTable


def _terms_json(terms: TfidfVectorizer | None) -> dict[str, Any] | None:
    if terms is None:
        return None
    vocabulary = {str(k): int(v) for k, v in terms.vocabulary_.items()}
    return {"vocabulary": vocabulary, "idf": [float(x) for x in terms.idf_]}


def state_json(state: ScorerState) -> dict[str, Any]:
    return {
        "mean": [float(x) for x in state.mean],
        "scale": [float(x) for x in state.scale],
        "weights": [float(x) for x in state.weights],
        "intercept": float(state.intercept),
        "prompt_terms": _terms_json(state.prompt_terms),
        "answer_terms": _terms_json(state.answer_terms),
    }


@dataclass(frozen=True)
class ReplayOutcome:
    """A threshold replayed on test rows through the stage's decision code."""

    rows: int
    escalated: int
    quality_pct: float  # of the strong model's test quality
    cost_pct: float  # of always calling the strong model; both calls on an escalation
    differs: int  # decisions unlike Cascade.decide_one's

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "escalation_rate": round(self.escalated / self.rows, 4) if self.rows else None,
            "quality_pct": round(self.quality_pct, 2),
            "cost_pct": round(self.cost_pct, 2),
            "decisions_unlike_evaluated_strategy": self.differs,
        }


MIN_TRAIN_ROWS = 20
_NO_REQUEST = ChatRequest(dialect="openai", body={}, model="", requested_model="")


def replay(
    scorer: FittedScorer,
    threshold: float,
    test: OutcomeTable,
    cascade: Cascade | None = None,
) -> ReplayOutcome:
    """Each test row decided by :class:`ScorerCheck` as the stage decides a live answer:
    every cheap model called, then the strong one on an escalation."""
    from thrifty.eval.route.table import QueryView

    check = ScorerCheck(scorer, threshold)
    cheap = [test.index(model) for model in scorer.cheap_models]
    strong = test.index(scorer.strong_model)
    quality = cost = 0.0
    escalated = differs = 0
    for i, prompt in enumerate(test.prompts):
        texts = [test.responses[i][j] for j in cheap]
        pairs = tuple(zip(scorer.cheap_models, texts, strict=True))
        answers = [TierAnswer(model, prompt, text, None) for model, text in pairs]
        verdict, pick = check.judge_pair(answers)
        served = cheap[pick] if verdict.accept else strong
        if cascade is not None:
            view = QueryView(prompt, pairs)
            differs += cascade.decide_one(view, threshold) != served
        cost += float(sum(test.costs[i, j] for j in cheap))
        if not verdict.accept:
            escalated += 1
            cost += float(test.costs[i, strong])
        quality += float(test.scores[i, served])
    strong_quality = float(test.scores[:, strong].sum())
    strong_cost = float(test.costs[:, strong].sum())
    return ReplayOutcome(
        rows=len(test),
        escalated=escalated,
        quality_pct=100.0 * quality / strong_quality if strong_quality else 0.0,
        cost_pct=100.0 * cost / strong_cost if strong_cost else 0.0,
        differs=differs,
    )


def hindsight(scorer: FittedScorer, test: OutcomeTable, share: float) -> dict[str, Any]:
    """The cheapest threshold that reaches ``share`` of the strong model's test quality,
    chosen *with the test labels*: what ``thrifty eval route`` reads off its test frontier
    (its ``cost_pct_at_95pct_quality``), a bound no threshold fixed in advance is promised.
    Reported beside the fitted threshold's result so the two are not confused."""
    import numpy as np

    cheap = [test.index(model) for model in scorer.cheap_models]
    strong = test.index(scorer.strong_model)
    rows = len(test)
    p, kept_score = np.zeros(rows), np.zeros(rows)
    for i, prompt in enumerate(test.prompts):
        p[i], pick = scorer.decide(prompt, [test.responses[i][j] for j in cheap])
        kept_score[i] = test.scores[i, cheap[pick]]
    cheap_cost = test.costs[:, cheap].sum(axis=1)
    strong_score, strong_cost = test.scores[:, strong], test.costs[:, strong]
    strong_quality, always = float(strong_score.sum()), float(strong_cost.sum())
    best: dict[str, Any] = {"threshold": None, "quality_pct": None, "cost_pct": None}
    if not strong_quality or not always:
        return best
    for threshold in sorted({*p.tolist(), float("inf")}):
        accept = p >= threshold
        quality = 100.0 * float(np.where(accept, kept_score, strong_score).sum()) / strong_quality
        cost = 100.0 * float((cheap_cost + np.where(accept, 0.0, strong_cost)).sum()) / always
        if quality >= 100.0 * share and (best["cost_pct"] is None or cost < best["cost_pct"]):
            best = {"threshold": threshold, "quality_pct": quality, "cost_pct": cost}
    return {k: v if k == "threshold" or v is None else round(v, 2) for k, v in best.items()}


def fit_document(
    train: OutcomeTable,
    test: OutcomeTable | None,
    cheap: Sequence[str],
    shares: Sequence[float],
) -> dict[str, Any]:
    """Fit the scorer for the ``cheap`` models' answers (one, or two called together) on
    ``train``, escalating to the strongest model on train, and return the file's JSON
    document."""
    from thrifty.eval.route.cascades import Cascade, ScorerState

    if not 1 <= len(cheap) <= MAX_CHEAP or len(set(cheap)) != len(cheap):
        raise ValueError(f"--fit-cascade takes one or two different cheap models, got {cheap}")
    for model in cheap:
        if model not in train.models:
            raise ValueError(f"--fit-cascade {model!r}: not a model of the records {train.models}")
        if not train.has_responses(train.index(model)):
            raise ValueError(f"--fit-cascade {model!r}: the records have no answer text for it")
    strong_index = train.strongest()
    if train.models[strong_index] in cheap:
        raise ValueError(f"{train.models[strong_index]!r} is the strongest model: nothing above it")
    level = float(train.scores[:, strong_index].mean())
    labels = {target_key(share): share * level for share in shares}
    cascade = Cascade(next(iter(labels)), learned=True, tier=list(cheap))
    cascade.fit(train, labels)
    assert isinstance(cascade.state, ScorerState)
    ordered = [train.models[j] for j in cascade.tier]  # the fitted order: best on train first
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "cheap_models": ordered,
        "strong_model": train.models[strong_index],
        "thresholds": {k: float(v) for k, v in cascade.thresholds.items()},
        "fitted_on": {"rows": len(train), "strong_quality": round(level, 4)},
        "scorer": state_json(cascade.state),
    }
    if test is not None and len(test):
        fitted = FittedScorer(
            tuple(ordered),
            train.models[strong_index],
            document["thresholds"],
            scorer_state(document["scorer"]),
        )
        document["test"] = {
            key: {
                **replay(fitted, threshold, test, cascade).to_json(),
                "hindsight": hindsight(fitted, test, float(key)),
            }
            for key, threshold in document["thresholds"].items()
        }
    return document


def split_tables(
    records: Sequence[RouteRecord], seed: int
) -> tuple[OutcomeTable, OutcomeTable | None]:
    """Train and test tables: the records' own split, else a random half each (``seed``)."""
    from thrifty.eval.route.evaluate import random_halves
    from thrifty.eval.route.table import OutcomeTable

    given = {r.split for r in records}
    if given == {None}:
        table = OutcomeTable.from_records(records)
        first, second = random_halves(len(table), seed)
        return table.subset(first), table.subset(second)
    train_rows = [r for r in records if r.split == "train"]
    if not train_rows:
        raise ValueError("no train rows to fit on")
    train = OutcomeTable.from_records(train_rows)
    test_rows = [r for r in records if r.split == "test"]
    return train, OutcomeTable.from_records(test_rows, train.models) if test_rows else None


def write_fit(
    records: Sequence[RouteRecord],
    cheap: Sequence[str],
    shares: Sequence[float],
    seed: int,
    out: Path,
) -> dict[str, Any]:
    """Fit, write ``out`` and return the document (without the scorer's weights)."""
    train, test = split_tables(records, seed)
    if len(train) < MIN_TRAIN_ROWS:
        raise ValueError(f"too few train rows to fit a scorer ({len(train)} < {MIN_TRAIN_ROWS})")
    document = fit_document(train, test, cheap, shares)
    out.write_text(json.dumps(document), encoding="utf-8")
    return {k: v for k, v in document.items() if k != "scorer"}


def run_fit(args: Any, record_sets: Sequence[Sequence[RouteRecord]]) -> int:
    """``thrifty eval route --fit-cascade CHEAP [--target-quality Q ...] --out FILE``."""
    import sys

    shares = args.target_quality or [0.95]
    if any(not 0 < share <= 1 for share in shares):
        print("thrifty eval route: --target-quality must be in (0, 1]", file=sys.stderr)
        return 2
    if len(record_sets) != 1:
        print("thrifty eval route: --fit-cascade takes one data set", file=sys.stderr)
        return 2
    try:
        summary = write_fit(record_sets[0], args.fit_cascade, shares, args.seed, args.out)
    except (ValueError, OSError) as error:
        print(f"thrifty eval route: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0
