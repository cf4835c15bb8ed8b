"""Following jobs: retries of failed items as new jobs (never an item that succeeded),
expiry, cancellation, memoization first, and the completion webhook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
from aiohttp import web

from tests.batch.conftest import Harness, openai_line, settings_for, submissions
from thrifty.batch import Batches
from thrifty.sim import SimConfig, SimServer


async def sent_lines(sim: SimServer) -> list[int]:
    """How many requests each batch job created at the simulator held (oldest first)."""
    async with httpx.AsyncClient(base_url=sim.openai_base_url) as http:
        listed = (await http.get("/batches", params={"limit": 100})).json()
    return [b["request_counts"]["total"] for b in reversed(listed["data"])]


async def test_failed_items_are_retried_as_new_jobs_and_successes_never_resent(
    harness: Harness,
) -> None:
    lines = [
        openai_line("ok", "fine"),
        openai_line("flaky", "down [[sim:fault=503]]"),  # fails every time: retried
        openai_line("refused", "no [[sim:fault=403]]"),  # a 4xx: final at once
    ]
    _, items, rows = await harness.run(lines)
    state = {i.custom_id: (i.state, i.attempts, i.result_status) for i in items}
    assert state == {
        "ok": ("succeeded", 1, 200),
        "flaky": ("failed", 3, 503),
        "refused": ("failed", 1, 403),
    }
    assert await sent_lines(harness.sim) == [3, 1, 1]  # the first job, then the retries
    assert len(rows) == 3
    by_status = sorted((r.status, r.cost_usd) for r in rows)
    assert by_status[0][0] == 200 and by_status[0][1] is not None and by_status[0][1] > 0
    assert [(s, c) for s, c in by_status[1:]] == [(403, 0), (503, 0)]  # errors are not billed


async def test_expired_items_are_retried_then_booked_as_expired(tmp_path: Path) -> None:
    # Each job gets through a quarter of its lines before its window closes.
    config = SimConfig(batch_duration_s=400.0, batch_window_s=100.0, batch_time_scale=20_000.0)
    async with SimServer(config) as sim:
        harness = Harness(sim, settings_for(sim, tmp_path))
        _, items, rows = await harness.run([openai_line(f"r{i}", f"q{i}") for i in range(4)])
        assert await sent_lines(sim) == [4, 3, 3]
    assert [(i.custom_id, i.state) for i in items] == [
        ("r0", "succeeded"),
        ("r1", "expired"),
        ("r2", "expired"),
        ("r3", "expired"),
    ]
    assert [i.attempts for i in items] == [1, 3, 3, 3]
    assert len(rows) == 4 and sum(r.status == 200 for r in rows) == 1


async def test_cancel_stops_queued_items_and_the_provider_job(tmp_path: Path) -> None:
    config = SimConfig(batch_duration_s=10_000.0)
    async with SimServer(config) as sim:
        harness = Harness(sim, settings_for(sim, tmp_path))
        async with harness.runtime() as thrifty, Batches.of(thrifty) as batches:
            submitted = await batches.submit([openai_line(f"r{i}", f"q{i}") for i in range(3)])
            assert submitted.handle is not None
            await batches.runner.step()  # the job is created and running
            assert submitted.handle.status().counts == {"sent": 3, "booked": 0}
            await submitted.handle.cancel()
            items = await submitted.handle.wait(0.01)
            rows = thrifty.ledger.rows()
            assert submitted.handle.status().state == "cancelled"
        assert submissions(sim) == 1
    assert [i.state for i in items] == ["cancelled"] * 3
    assert len(rows) == 3 and {r.status for r in rows} == {499}
    assert all(r.cost_usd == 0 for r in rows)


async def test_cancel_before_sending_sends_nothing(harness: Harness) -> None:
    async with harness.runtime() as thrifty, Batches.of(thrifty) as batches:
        submitted = await batches.submit([openai_line("a", "x")])
        assert submitted.handle is not None
        status = await submitted.handle.cancel()
        assert status.counts.get("cancelled") == 1
        await submitted.handle.wait(0.01)
        assert len(thrifty.ledger.rows()) == 1
    assert submissions(harness.sim) == 0


async def test_identical_items_go_once_and_the_exact_cache_answers_first(
    harness: Harness,
) -> None:
    same = openai_line("a", "the same", temperature=0)
    twin = openai_line("b", "the same", temperature=0)
    other = openai_line("c", "different", temperature=0)
    _, items, rows = await harness.run([same, twin, other])
    assert await sent_lines(harness.sim) == [2]  # a and c; b follows a
    assert [(i.custom_id, i.state, i.source) for i in items] == [
        ("a", "succeeded", "batch"),
        ("b", "succeeded", "duplicate"),
        ("c", "succeeded", "batch"),
    ]
    assert items[0].result == items[1].result
    memo = next(r for r in rows if r.savings.get("memo") is not None)
    assert memo.cost_usd == 0 and memo.calls == () and memo.baseline_usd
    # A second submission of the same request: answered from the exact cache, never sent.
    again = openai_line("z", "the same", temperature=0)
    _, later, rows = await harness.run([again])
    assert later[0].source == "cache" and later[0].result == items[0].result
    assert await sent_lines(harness.sim) == [2]
    assert rows[-1].savings == {"cache": rows[-1].baseline_usd} and rows[-1].cost_usd == 0


async def test_the_webhook_hears_of_a_completed_submission(sim: SimServer, tmp_path: Path) -> None:
    heard: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        heard.append(orjson.loads(await request.read()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        settings = settings_for(
            sim,
            tmp_path,
            batch={"poll_interval_s": 0.01, "webhook_url": f"http://127.0.0.1:{port}/hook"},
        )
        submitted, _, _ = await Harness(sim, settings).run([openai_line("a", "x")])
    finally:
        await runner.cleanup()
    assert heard == [
        {
            "type": "batch.completed",
            "id": submitted.handle.id,
            "counts": {"succeeded": 1, "booked": 1},
        }
    ]
