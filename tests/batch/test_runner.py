"""The poller against a scripted provider: every failure path of a job's life."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import orjson
import pytest

from thrifty.batch.booking import Booker
from thrifty.batch.queue import BatchQueue, NewItem
from thrifty.batch.runner import BatchRunner
from thrifty.batch.upstream import BatchUpstreamError, RemoteJob, ResultLine
from thrifty.ledger import LedgerStore
from thrifty.testing import accountant

ANSWER = orjson.dumps(
    {
        "id": "c1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    }
)  # fmt: skip


class ScriptedAPI:
    """A provider whose next answers a test sets; records what it was asked."""

    def __init__(self) -> None:
        self.create_errors: list[int] = []
        self.retrieve_errors: list[int] = []
        self.created: list[list[str]] = []
        self.found: RemoteJob | None = None
        self.drop: set[str] = set()  # custom ids the results leave out

    async def upload(self, job_id: str, lines: Sequence[tuple[str, bytes]]) -> str | None:
        return "file-1"

    async def create(
        self, job_id: str, input_ref: str | None, lines: Sequence[tuple[str, bytes]]
    ) -> RemoteJob:
        if self.create_errors:
            raise BatchUpstreamError("create failed", status=self.create_errors.pop(0))
        self.created.append([cid for cid, _ in lines])
        return RemoteJob(f"remote-{len(self.created)}", "in_progress", False, {})

    async def find(
        self, job_id: str, creating_at: float, requests: int, claimed: set[str]
    ) -> RemoteJob | None:
        return self.found

    async def retrieve(self, remote_id: str) -> RemoteJob:
        if self.retrieve_errors:
            raise BatchUpstreamError("retrieve failed", status=self.retrieve_errors.pop(0))
        return RemoteJob(remote_id, "completed", True, {})

    async def results(self, job: RemoteJob) -> list[ResultLine]:
        index = int(job.remote_id.split("-")[1]) - 1
        return [
            ResultLine(cid, "succeeded", 200, ANSWER)
            for cid in self.created[index]
            if cid not in self.drop
        ]

    async def cancel(self, remote_id: str) -> None:
        return None


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[LedgerStore]:
    store = LedgerStore(tmp_path / "ledger.db")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def queue(tmp_path: Path) -> BatchQueue:
    return BatchQueue(tmp_path / "batch.db").open()


def add(queue: BatchQueue, count: int = 2) -> str:
    body = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
    items = [
        NewItem(n, f"r{n}", "openai", "openai", "gpt-4o-mini", body, len(body), f"k{n}")
        for n in range(count)
    ]
    queue.add_submission("tb_1", items, tenant=None, task=None)
    return "tb_1"


def runner(queue: BatchQueue, api: ScriptedAPI, ledger: LedgerStore) -> BatchRunner:
    return BatchRunner(queue, {"openai": api}, Booker(ledger, accountant()), max_attempts=2)


async def test_a_failed_create_is_tried_again_at_the_next_step(
    queue: BatchQueue, ledger: LedgerStore
) -> None:
    api = ScriptedAPI()
    api.create_errors = [503]
    poller = runner(queue, api, ledger)
    add(queue)
    await poller.step()
    (job,) = queue.jobs("creating")
    assert job.error is not None and "create failed" in job.error
    await poller.step()  # looked up first (not found), then created
    await poller.step()
    assert queue.counts("tb_1") == {"succeeded": 2, "booked": 2}
    assert len(api.created) == 1 and len(ledger.rows()) == 2


async def test_a_create_the_provider_refuses_fails_its_items(
    queue: BatchQueue, ledger: LedgerStore
) -> None:
    api = ScriptedAPI()
    api.create_errors = [400]
    poller = runner(queue, api, ledger)
    add(queue)
    assert await poller.step() is False  # nothing left: the items failed and were booked
    items = queue.results("tb_1")
    assert [i.state for i in items] == ["failed", "failed"]
    assert items[0].error is not None and items[0].error.startswith("job refused")
    assert {r.status for r in ledger.rows()} == {504} and api.created == []


async def test_a_job_found_at_the_provider_is_adopted_not_created_again(
    queue: BatchQueue, ledger: LedgerStore
) -> None:
    api = ScriptedAPI()
    api.create_errors = [500]
    poller = runner(queue, api, ledger)
    add(queue)
    await poller.step()
    api.created.append(["t1", "t2"])  # the provider did create it after all
    api.found = RemoteJob("remote-1", "in_progress", False, {})
    await poller.step()
    await poller.step()
    assert len(api.created) == 1  # never created twice
    assert queue.counts("tb_1") == {"succeeded": 2, "booked": 2}


async def test_a_failed_check_keeps_the_job_and_a_lost_line_is_sent_again(
    queue: BatchQueue, ledger: LedgerStore
) -> None:
    api = ScriptedAPI()
    api.retrieve_errors = [502]
    api.drop = {"t2"}  # the first job's results lose the second item
    poller = runner(queue, api, ledger)
    add(queue)
    await poller.step()
    assert queue.jobs("in_progress")
    await poller.step()  # checked: ended, collected without t2, which is queued again
    api.drop = set()
    await poller.step()
    await poller.step()
    assert api.created == [["t1", "t2"], ["t2"]]  # the one that succeeded is never resent
    items = queue.results("tb_1")
    assert [(i.state, i.attempts) for i in items] == [("succeeded", 1), ("succeeded", 2)]
    assert len(ledger.rows()) == 2


async def test_a_line_lost_every_time_fails_after_max_attempts(
    queue: BatchQueue, ledger: LedgerStore
) -> None:
    api = ScriptedAPI()
    api.drop = {"t1"}
    poller = runner(queue, api, ledger)
    add(queue, 1)
    for _ in range(6):
        await poller.step()
    (item,) = queue.results("tb_1")
    assert (item.state, item.attempts) == ("failed", 2)
    assert item.error is not None and item.error.startswith("no result from job")
    assert len(ledger.rows()) == 1


async def test_booking_twice_writes_one_row(queue: BatchQueue, ledger: LedgerStore) -> None:
    api = ScriptedAPI()
    poller = runner(queue, api, ledger)
    add(queue, 1)
    for _ in range(3):
        await poller.step()
    (item,) = queue.results("tb_1")
    await poller.booker.book(item)  # as after a crash between the row and the mark
    assert len(ledger.rows()) == 1


async def test_a_cancelled_submission_in_a_job_not_yet_sent_is_left_out(
    queue: BatchQueue, ledger: LedgerStore
) -> None:
    api = ScriptedAPI()
    poller = runner(queue, api, ledger)
    add(queue)
    body = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "y"}]})
    other = [NewItem(0, "keep", "openai", "openai", "gpt-4o-mini", body, len(body), "other")]
    queue.add_submission("tb_2", other, tenant=None, task=None)
    poller.plan()  # one job holds both submissions' items
    queue.cancel_queued("tb_1")  # its items are already in the job, not queued
    for _ in range(3):
        await poller.step()
    assert api.created == [["t3"]]  # only the other submission's item was sent
    assert [i.state for i in queue.results("tb_1")] == ["cancelled", "cancelled"]
    assert [i.state for i in queue.results("tb_2")] == ["succeeded"]
    assert len(ledger.rows()) == 3


async def test_a_job_the_provider_forgot_is_sent_again(
    queue: BatchQueue, ledger: LedgerStore
) -> None:
    api = ScriptedAPI()
    api.retrieve_errors = [404]
    poller = runner(queue, api, ledger)
    add(queue, 1)
    for _ in range(3):
        await poller.step()
    assert api.created == [["t1"], ["t1"]]
    (item,) = queue.results("tb_1")
    assert (item.state, item.attempts) == ("succeeded", 2)
    assert len(ledger.rows()) == 1
