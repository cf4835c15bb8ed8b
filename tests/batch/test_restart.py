"""Kill the process (SIGKILL) in every phase, start it again: nothing lost, nothing paid
twice.  The simulator runs in the test process and counts the batch jobs it was asked to
create; the worker runs in a subprocess that kills itself at the chosen event."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tests.batch.conftest import anthropic_line, openai_line, submissions
from thrifty.batch.queue import BatchQueue
from thrifty.ledger import LedgerStore
from thrifty.sim import SimConfig, SimServer

ROOT = Path(__file__).resolve().parents[2]
LINES = [
    openai_line("o1", "alpha"),
    anthropic_line("a1", "beta"),
    openai_line("o2", "gamma"),
    anthropic_line("a2", "delta"),
    openai_line("o3", "epsilon"),
]


async def run_worker(sim: SimServer, tmp: Path, *extra: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.batch.crash_worker",
        sim.base_url,
        str(tmp),
        str(tmp / "lines.jsonl"),
        *extra,
        cwd=ROOT,
    )
    return await asyncio.wait_for(process.wait(), 60)


@pytest.mark.parametrize(
    ("event", "nth"),
    [
        ("submitted", 1),  # queued, no job yet
        ("planned", 2),  # jobs made, nothing sent
        ("uploaded", 1),  # OpenAI input file uploaded, batch not created
        ("creating", 2),  # about to create the second job
        ("remote_created", 1),  # created at the provider, not yet recorded
        ("in_progress", 2),  # both jobs running
        ("ended", 1),  # one job ended, results not collected
        ("collected", 1),  # partly collected: one job's results stored
        ("booked", 1),  # partly booked
    ],
)
async def test_a_restart_in_every_phase_loses_nothing_and_pays_nothing_twice(
    tmp_path: Path, event: str, nth: int
) -> None:
    (tmp_path / "lines.jsonl").write_bytes(b"\n".join(LINES) + b"\n")
    config = SimConfig(batch_duration_s=0.2)  # jobs stay in progress for a few polls
    async with SimServer(config) as sim:
        killed = await run_worker(sim, tmp_path, "--crash-at", event, "--nth", str(nth))
        assert killed == -signal.SIGKILL
        assert await run_worker(sim, tmp_path) == 0
        assert submissions(sim) == 2  # one job per provider, each created once
    queue = BatchQueue(tmp_path / "ledger-batch.db").open()
    try:
        assert queue.open_submissions() == []  # finished and announced
        items = queue.items("1 = 1")
    finally:
        queue.close()
    assert [i.custom_id for i in items] == ["o1", "a1", "o2", "a2", "o3"]
    assert all(i.state == "succeeded" and i.booked and i.attempts == 1 for i in items)
    ledger = LedgerStore(tmp_path / "ledger.db")
    rows = ledger.rows()
    assert len(rows) == len(LINES)  # one row per result line, none twice
    assert sorted(r.request_id for r in rows) == sorted(
        f"batch-{i.submission_id}-{i.id}" for i in items
    )
    assert all(r.calls[0].call.batch for r in rows)
