"""The task name as a router feature, and the value router (gain per predicted dollar)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from thrifty.eval.route.costs import MIN_SHARE, CostByLength, SavingScale
from thrifty.eval.route.evaluate import TARGETS, evaluate_split, headline
from thrifty.eval.route.metrics import cost_pct_at
from thrifty.eval.route.records import ModelOutcome, RouteRecord
from thrifty.eval.route.routers import PromptRouter
from thrifty.eval.route.strategies import threshold_label
from thrifty.eval.route.table import OutcomeTable
from thrifty.eval.route.tasks import TaskColumns

COSTS = {"small": Decimal("0.001"), "large": Decimal("0.010")}


def task_records(n: int, offset: int = 0) -> list[RouteRecord]:
    """Every prompt reads alike ("question number k"); only the task tells them apart: on
    ``hard`` (a third) only large is right, on ``easy`` both are."""
    records = []
    for k in range(offset, offset + n):
        task = "hard" if k % 3 == 0 else "easy"
        right = {"large"} if task == "hard" else {"small", "large"}
        outcomes = {m: ModelOutcome(float(m in right), COSTS[m], None) for m in COSTS}
        records.append(RouteRecord(f"q{k}", f"question number {k}", outcomes, None, task))
    return records


def test_task_columns_are_one_hot_over_train_tasks() -> None:
    columns = TaskColumns.fit(["b", "a", None, "b"])
    assert columns is not None and dict(columns.index) == {"a": 0, "b": 1}
    matrix = columns.matrix(["b", None, "unseen", "a"]).toarray()
    assert matrix.tolist() == [[0, 1], [0, 0], [0, 0], [1, 0]]
    assert TaskColumns.fit(["only", "only", None]) is None  # one task tells nothing
    assert TaskColumns.fit([None, None]) is None


@pytest.mark.parametrize("method", ["logreg", "knn", "gain", "value"])
def test_a_router_reads_the_task_when_the_prompt_says_nothing(method: str) -> None:
    train = OutcomeTable.from_records(task_records(150))
    test = OutcomeTable.from_records(task_records(60, offset=1000))
    blind = replace(train, tasks=()), replace(test, tasks=())
    split = evaluate_split(train, test, [PromptRouter(method)])
    blind_split = evaluate_split(*blind, [PromptRouter(method)])
    seeing = headline(split, split.results[0])["cost_pct_to_match_strongest"]
    # large on the 20 hard prompts only: (40 * 0.001 + 20 * 0.010) / (60 * 0.010) = 40%
    assert seeing == pytest.approx(40.0)
    # without the task every prompt looks alike: matching large means large everywhere
    blind_cost = headline(blind_split, blind_split.results[0])["cost_pct_to_match_strongest"]
    assert blind_cost == pytest.approx(100.0)


@pytest.mark.parametrize("method", ["logreg", "knn", "gain", "value"])
def test_single_decisions_read_the_task_as_the_batch_does(method: str) -> None:
    train = OutcomeTable.from_records(task_records(150))
    test = OutcomeTable.from_records(task_records(30, offset=1000))
    level = float(train.scores[:, train.strongest()].mean())
    router = PromptRouter(method)
    router.fit(train, {t: share * level for t, share in TARGETS.items()})
    threshold = router.thresholds["100%"]
    [batch] = [
        s for s in router.plan(test.views()).settings if s.label == threshold_label(threshold)
    ]
    single = [router.decide_one(view.prompt, threshold, view.task) for view in test.views()]
    assert single == batch.chosen.tolist()
    assert set(single) == {0, 1}  # the task splits the decisions


def test_cost_by_length_recovers_linear_costs() -> None:
    prompts = ["x" * 10, "x" * 20, "x" * 40]
    costs = np.array([[1.0 + 0.5 * n, 2.0] for n in (10, 20, 40)])
    model = CostByLength.fit(prompts, costs)
    assert model.predict(["x" * 30]) == pytest.approx(np.array([[16.0, 2.0]]))
    # never below the cheapest train cost (a negative slope cannot predict a free call)
    falling = CostByLength.fit(prompts, np.array([[3.0], [2.0], [1.0]]))
    assert falling.predict(["x" * 1000])[0, 0] == pytest.approx(1.0)


def test_a_loss_is_weighed_per_dollar_saved() -> None:
    # small costs 1 per call; large costs the prompt's length: saving = length - 1
    prompts = ["x" * 3, "x" * 21]
    costs = np.array([[1.0, 3.0], [1.0, 21.0]])
    scale = SavingScale.fit(prompts, costs, [0], 1)
    assert scale.mean_saving == pytest.approx([11.0])  # (2 + 20) / 2
    assert scale.relative(prompts)[:, 0] == pytest.approx([2 / 11, 20 / 11])
    gain = np.array([[-0.5], [0.2]])
    value = scale.per_dollar(gain, prompts)
    assert value[:, 0] == pytest.approx([-0.5 / (2 / 11), 0.2 * 20 / 11])
    flat = CostByLength(np.array([1.0, 1.0]), np.zeros(2), np.zeros(2))
    no_saving = SavingScale(flat, (0,), 1, np.array([11.0]))
    assert no_saving.relative(["x"])[0, 0] == pytest.approx(MIN_SHARE)  # floored, never 0


def length_records(n: int, offset: int = 0) -> list[RouteRecord]:
    """Short prompts (large $0.010) and long ones (large $0.100, small $0.010) alternate;
    on each kind small is right on half of them, in no way the words show; large always."""
    records = []
    for k in range(offset, offset + n):
        long = k % 2 == 0
        prompt = f"question {k}" + " filler words" * 40 * long
        small_right = (k // 2) % 2 == 0
        costs = (Decimal("0.010"), Decimal("0.100")) if long else (Decimal("0.001"), COSTS["large"])
        outcomes = {
            "small": ModelOutcome(float(small_right), costs[0], None),
            "large": ModelOutcome(1.0, costs[1], None),
        }
        records.append(RouteRecord(f"q{k}", prompt, outcomes, None))
    return records


def test_the_value_router_sends_the_dear_prompts_cheap_first() -> None:
    train = OutcomeTable.from_records(length_records(200))
    test = OutcomeTable.from_records(length_records(80, offset=1000))
    split = evaluate_split(train, test, [PromptRouter("gain"), PromptRouter("value")])
    results = {r.name: r for r in split.results}
    # 75% quality: long prompts to small (half right), short to large.  Per pair of
    # prompts: small on the long $0.010 + large on the short $0.010, against $0.110.
    value = cost_pct_at(results["prompt-router-value"].points, 0.75)
    assert value == pytest.approx(100 * 0.020 / 0.110)
    # the gain router sees the same loss on both kinds: it cannot prefer the long ones
    gain = cost_pct_at(results["prompt-router-gain"].points, 0.75)
    assert gain is not None and gain > value + 20
