"""Strategies decide from the prompt and paid-for responses only, never from test labels."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from tests.eval.route.conftest import synthetic_records
from thrifty.eval.route.evaluate import TARGETS, default_strategies, evaluate_split
from thrifty.eval.route.strategies import Plan, Strategy, constant
from thrifty.eval.route.table import OutcomeTable, QueryView, UnpaidReadError


class Tripwire(np.ndarray):  # type: ignore[type-arg]
    """A label array that counts every read of its values."""

    reads = 0

    def __getitem__(self, key: Any) -> Any:
        Tripwire.reads += 1
        return super().__getitem__(key)

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        Tripwire.reads += 1
        return super().__array__(*args, **kwargs)

    def __array_ufunc__(self, *args: Any, **kwargs: Any) -> Any:
        Tripwire.reads += 1
        inputs = [
            np.asarray(a.view(np.ndarray)) if isinstance(a, Tripwire) else a for a in args[2:]
        ]
        return getattr(args[0], args[1])(*inputs, **kwargs)


def tables(tasks: bool = False) -> tuple[OutcomeTable, OutcomeTable]:
    """With ``tasks``, every record names one of two tasks (seen at run time: not a label)."""
    train_records = synthetic_records(90)
    test_records = synthetic_records(45, offset=1000)
    if tasks:
        train_records = [replace(r, task=f"task{k % 2}") for k, r in enumerate(train_records)]
        test_records = [replace(r, task=f"task{k % 2}") for k, r in enumerate(test_records)]
    return OutcomeTable.from_records(train_records), OutcomeTable.from_records(test_records)


def test_the_tripwire_notices_a_read() -> None:
    _, test = tables()
    wired = test.scores.view(Tripwire)
    Tripwire.reads = 0
    float(wired.mean())
    _ = wired[0, 0]
    assert Tripwire.reads >= 2


@pytest.mark.parametrize("tasks", [False, True])
def test_no_strategy_reads_test_labels_while_planning(tasks: bool) -> None:
    train, test = tables(tasks)
    level = float(train.scores[:, train.strongest()].mean())
    # the scores and the recorded costs of the test rows: a strategy reads neither
    wired = replace(test, scores=test.scores.view(Tripwire), costs=test.costs.view(Tripwire))
    assert all(view.task is not None for view in wired.views()) == tasks
    strategies = default_strategies(train)
    assert {s.kind for s in strategies} == {"baseline", "router", "cascade"}
    assert {"prompt-router-value", "vote-chain@98%"} <= {s.name for s in strategies}
    for strategy in strategies:
        strategy.fit(train, {t: share * level for t, share in TARGETS.items()})
        Tripwire.reads = 0
        plan = strategy.plan(wired.views())
        assert Tripwire.reads == 0, strategy.name
        assert plan.settings, strategy.name


def test_a_view_holds_no_label() -> None:
    _, test = tables()
    view = test.views()[0]
    assert not any("score" in name or "label" in name for name in dir(view))
    held = [getattr(view, name) for name in view.__slots__]  # type: ignore[attr-defined]
    assert all(not isinstance(value, np.ndarray | OutcomeTable) for value in held)


def test_a_view_records_the_responses_read() -> None:
    _, test = tables()
    view = test.views()[0]
    assert view.read_models == frozenset()
    assert view.response("small") in {"I think the answer is A", "I think the answer is B"}
    assert view.read_models == {"small"}
    with pytest.raises(KeyError):
        view.response("unknown")


class Peeker(Strategy):
    """Reads the large model's answer but bills only the small model: refused."""

    name = "peeker"

    def plan(self, views: list[QueryView]) -> Plan:  # type: ignore[override]
        for view in views:
            view.response("large")
        return Plan([constant(self.models.index("small"), len(views), 3, "cheat")])


def test_reading_an_unpaid_response_is_refused() -> None:
    train, test = tables()
    with pytest.raises(UnpaidReadError, match="peeker"):
        evaluate_split(train, test, [Peeker()])


class ForkPeeker(Strategy):
    """Two settings, each reading through its own fork: ``small-only`` calls small alone,
    ``both`` calls small and large; it reads large under ``read_as`` on the first query."""

    name = "fork-peeker"

    def __init__(self, read_as: str) -> None:
        self.read_as = read_as

    def plan(self, views: list[QueryView]) -> Plan:  # type: ignore[override]
        small, large = self.models.index("small"), self.models.index("large")
        cheap = constant(small, len(views), 3, "small-only")
        both = constant(large, len(views), 3, "both")
        both.called[:, small] = True
        for i, view in enumerate(views):
            view.fork("small-only").response("small")
            view.fork("both").response("small")
            view.fork("both").response("large")
            if i == 0:
                view.fork(self.read_as).response("large")
        return Plan([cheap, both])


def test_forked_reads_count_for_their_own_setting_only() -> None:
    train, test = tables()
    evaluate_split(train, test, [ForkPeeker("both")])  # large read only where it is paid
    with pytest.raises(UnpaidReadError, match=r"fork-peeker \(small-only\)"):
        evaluate_split(train, test, [ForkPeeker("small-only")])
    with pytest.raises(UnpaidReadError, match="'elsewhere', not a setting"):
        evaluate_split(train, test, [ForkPeeker("elsewhere")])
