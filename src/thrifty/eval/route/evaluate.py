"""Fit every strategy on the train rows, plan on the test rows, and score the plans.

The evaluator is the only code that reads test labels, and only after a strategy has
planned from label-free views.  It also refuses a plan that read a model's response
without calling that model on that query (:class:`UnpaidReadError`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from thrifty.eval.route.cascades import Cascade, cascade_pool
from thrifty.eval.route.metrics import Point, apgr, cost_pct_at, cpt, frontier, point
from thrifty.eval.route.routers import PromptRouter
from thrifty.eval.route.strategies import AlwaysModel, BestStatic, Plan, RandomRouter, Strategy
from thrifty.eval.route.table import BoolArray, OutcomeTable, QueryView, UnpaidReadError
from thrifty.eval.route.vote_chain import VoteChain, answer_options, chain_pool

TARGETS = {"100%": 1.0, "98%": 0.98, "95%": 0.95}
ORACLE = "perfect-router"
ORACLE_STEPS = 80


@dataclass
class StrategyResult:
    """One strategy on one split."""

    name: str
    kind: str
    points: list[Point]
    picked: dict[str, Point] = field(default_factory=dict)  # target -> the train-chosen point


@dataclass
class SplitResult:
    n_train: int
    n_test: int
    strongest: str
    cheapest: str
    strongest_quality: float  # on test
    cheapest_quality: float  # on test
    strongest_cost: float  # always-strongest on test, USD
    results: list[StrategyResult]


def default_strategies(table: OutcomeTable) -> list[Strategy]:
    """Every baseline and learned strategy that fits ``table``'s data."""
    strategies: list[Strategy] = [
        AlwaysModel("strongest"),
        AlwaysModel("cheapest"),
        BestStatic(),
        RandomRouter(),
        PromptRouter("logreg"),
        PromptRouter("knn"),
        PromptRouter("gain"),
        PromptRouter("value"),
    ]
    cheap = cascade_pool(table)
    if len(cheap) >= 2:
        strategies += [Cascade(t, learned=False) for t in ("98%", "100%")]
        strategies += [Cascade(t, learned=True) for t in ("98%", "100%")]
        if answer_options(table, chain_pool(table)) is not None:  # multiple choice
            strategies += [VoteChain(t) for t in ("98%", "100%")]
    elif cheap:  # one cheap model with answer text: a single possible tier
        strategies.append(Cascade("98%", learned=True))
    return strategies


def read_mask(views: Sequence[QueryView], models: Sequence[str]) -> BoolArray:
    mask = np.zeros((len(views), len(models)), dtype=bool)
    for i, view in enumerate(views):
        for model in view.read_models:
            mask[i, models.index(model)] = True
    return mask


def forked_masks(
    views: Sequence[QueryView], models: Sequence[str], name: str, labels: set[str]
) -> dict[str, BoolArray]:
    """Per setting label, the responses read through views forked for that setting."""
    masks: dict[str, BoolArray] = {}
    for i, view in enumerate(views):
        for label, child in view.forks:
            if label not in labels:
                raise UnpaidReadError(f"{name} read responses for {label!r}, not a setting")
            mask = masks.setdefault(label, np.zeros((len(views), len(models)), dtype=bool))
            for model in child.read_models:
                mask[i, models.index(model)] = True
    return masks


def check_paid(plan: Plan, views: Sequence[QueryView], models: Sequence[str], name: str) -> None:
    """Refuse a plan with a setting that read a response it did not pay for: the reads of
    the views themselves count for every setting, those of a forked view for its own."""
    read = read_mask(views, models)
    forked = forked_masks(views, models, name, {s.label for s in plan.settings})
    for setting in plan.settings:
        own = forked.get(setting.label)
        seen = read if own is None else read | own
        if bool((seen & ~setting.called).any()):
            raise UnpaidReadError(
                f"{name} ({setting.label}) read a response of a model it did not call"
            )


def oracle_points(test: OutcomeTable, strongest: int) -> list[Point]:
    """The perfect router's frontier: per query, the best score-minus-price trade-off for a
    sweep of prices of quality (it reads the labels: a bound, not a strategy)."""
    scale = float(test.costs.mean()) or 1.0
    rows, points = np.arange(len(test)), []
    for weight in [0.0, *np.logspace(-3, 3, ORACLE_STEPS)]:
        value = test.scores - weight * test.costs / scale - 1e-9 * test.costs / scale
        chosen = np.argmax(value, axis=1).astype(np.int64)
        called = np.zeros(test.scores.shape, dtype=bool)
        called[rows, chosen] = True
        points.append(point(test.scores, test.costs, chosen, called, strongest, f"w={weight:.3g}"))
    return points


def evaluate_split(
    train: OutcomeTable,
    test: OutcomeTable,
    strategies: Sequence[Strategy],
    progress: Callable[[str], None] = lambda _: None,
) -> SplitResult:
    strongest, cheapest = train.strongest(), train.cheapest()
    level = float(train.scores[:, strongest].mean())
    targets = {name: share * level for name, share in TARGETS.items()}
    results = []
    for strategy in strategies:
        progress(strategy.name)
        strategy.fit(train, targets)
        views = test.views()
        plan = strategy.plan(views)
        check_paid(plan, views, test.models, strategy.name)
        points = {
            s.label: point(test.scores, test.costs, s.chosen, s.called, strongest, s.label)
            for s in plan.settings
        }
        if len(points) != len(plan.settings):
            raise ValueError(f"{strategy.name}: two settings share a label")
        picked = {target: points[label] for target, label in plan.picked.items()}
        results.append(StrategyResult(strategy.name, strategy.kind, list(points.values()), picked))
    results.append(StrategyResult(ORACLE, "bound", oracle_points(test, strongest)))
    return SplitResult(
        len(train),
        len(test),
        test.models[strongest],
        test.models[cheapest],
        float(test.scores[:, strongest].mean()),
        float(test.scores[:, cheapest].mean()),
        float(test.costs[:, strongest].sum()),
        results,
    )


def headline(split: SplitResult, result: StrategyResult) -> dict[str, float | None]:
    """The figures the report and the JSON give for one strategy on one split."""
    q = split.strongest_quality
    figures: dict[str, float | None] = {
        "cost_pct_to_match_strongest": cost_pct_at(result.points, q),
        "cost_pct_at_98pct_quality": cost_pct_at(result.points, 0.98 * q),
        "cost_pct_at_95pct_quality": cost_pct_at(result.points, 0.95 * q),
        "best_quality_pct": 100.0 * max(p.quality for p in result.points) / q if q else None,
    }
    weak = split.cheapest_quality
    if split.strongest != split.cheapest and q != weak:
        for name, gain in (("cpt_50", 0.5), ("cpt_80", 0.8)):
            share = cpt(result.points, gain, weak, q)
            figures[name] = None if share is None else 100.0 * share
        figures["apgr"] = apgr(result.points, weak, q)
    for target, p in result.picked.items():
        key = target.rstrip("%")
        figures[f"train_chosen_{key}_quality_pct"] = 100.0 * p.quality / q if q else None
        figures[f"train_chosen_{key}_cost_pct"] = p.cost_pct
    return figures


def random_halves(n: int, seed: int) -> tuple[list[int], list[int]]:
    order = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return sorted(int(i) for i in order[:half]), sorted(int(i) for i in order[half:])


def frontier_of(result: StrategyResult) -> list[Point]:
    return frontier(result.points)
