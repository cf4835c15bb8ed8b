"""A learned router trained with tasks reads the request's task (``x-thrifty-task``) too."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from tests.levers.cheaper.learned_kit import COSTS, LARGE, SMALL, fitted
from thrifty.eval.route.records import ModelOutcome, RouteRecord
from thrifty.eval.route.routers import PromptRouter
from thrifty.eval.route.table import OutcomeTable
from thrifty.levers.cheaper.learned.command import fit_router, target_names
from thrifty.levers.cheaper.learned.predictors import file_from_router, live_router
from thrifty.levers.cheaper.learned.router_file import (
    RouterFile,
    RouterFileError,
    load_router,
    parse_router,
    save_router,
)
from thrifty.levers.cheaper.learned.stage import LearnedRouting, TaskRouter
from thrifty.testing import FakeUpstream, request_for


def task_records(n: int, offset: int = 0) -> list[RouteRecord]:
    """The prompts read alike; on task ``proofs`` only the large model is right."""
    records = []
    for k in range(offset, offset + n):
        task = "proofs" if k % 3 == 0 else "sums"
        small = 0.0 if task == "proofs" else 1.0
        outcomes = {
            SMALL: ModelOutcome(small, COSTS[SMALL], None),
            LARGE: ModelOutcome(1.0, COSTS[LARGE], None),
        }
        records.append(RouteRecord(f"q{k}", f"question number {k}", outcomes, None, task))
    return records


@functools.cache
def trained() -> tuple[PromptRouter, RouterFile]:
    router = PromptRouter("logreg")
    fit_router(OutcomeTable.from_records(task_records(90)), router)
    return router, file_from_router(router, target_names(), {"source": "test"})


def test_the_router_file_keeps_the_task_columns(tmp_path: Path) -> None:
    _, router_file = trained()
    assert dict(router_file.tasks) == {"proofs": 0, "sums": 1}
    assert len(router_file.weights) == len(router_file.vocabulary) + 2
    save_router(router_file, tmp_path / "r.json")
    assert load_router(tmp_path / "r.json") == router_file
    assert fitted().tasks == {}  # records without tasks: no task columns, as before


def test_live_decisions_read_the_task_as_the_evaluation_does() -> None:
    router, router_file = trained()
    live = live_router(router_file)
    threshold = router_file.threshold_for(1.0)
    prompt = "question number 5001"
    for task, expected in (("proofs", LARGE), ("sums", SMALL)):
        assert live.decide(prompt, threshold, task) == expected
        assert router.models[router.decide_one(prompt, threshold, task)] == expected
    # a task it was not trained on, or none: the prompt alone decides, the same for both
    assert live.decide(prompt, threshold, "poetry") == live.decide(prompt, threshold)


async def test_the_stage_passes_the_request_task() -> None:
    _, router_file = trained()
    live = live_router(router_file)
    rules = TaskRouter(live, router_file.threshold_for(1.0), {SMALL: SMALL, LARGE: LARGE})
    upstream = FakeUpstream()
    handler = LearnedRouting({None: rules})(upstream)
    await handler(request_for(LARGE, "question number 6001", task="sums"))
    await handler(request_for(LARGE, "question number 6002", task="proofs"))
    assert [r.model for r in upstream.requests] == [SMALL, LARGE]


def document() -> dict[str, Any]:
    return trained()[1].to_json()


BAD_TASKS = [
    ("not an object", lambda d: d.update(tasks=["proofs"]), "tasks must map"),
    ("empty name", lambda d: d.update(tasks={"": 0, "sums": 1}), "task name"),
    ("long name", lambda d: d.update(tasks={"t" * 300: 0, "sums": 1}), "task name"),
    ("bool column", lambda d: d.update(tasks={"proofs": True, "sums": 1}), "column numbers"),
    ("column twice", lambda d: d.update(tasks={"proofs": 0, "sums": 0}), "each column once"),
    ("rows", lambda d: d["weights"].pop(), "vocabulary"),
]


@pytest.mark.parametrize(("name", "change", "says"), BAD_TASKS, ids=[b[0] for b in BAD_TASKS])
def test_bad_task_columns_are_refused(name: str, change: Any, says: str) -> None:
    doc = document()
    change(doc)
    with pytest.raises(RouterFileError, match=says):
        parse_router(doc, "r.json")


def test_only_a_tfidf_router_reads_tasks() -> None:
    doc = fitted("minilm").to_json()
    doc["tasks"] = {"proofs": 0, "sums": 1}
    with pytest.raises(RouterFileError, match="only a tfidf router reads tasks"):
        parse_router(doc, "r.json")
