"""The issue's command: another process holds ``BEGIN IMMEDIATE`` on the ledger file while
requests flow through the gateway.  Every paid call still gets its answer promptly and its
row, exactly once, when the lock clears (a request used to get a 500
``ledger_write_failed`` after 10 s, with no row although the upstream had answered)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import httpx

from tests.gateway.conftest import make_settings, running_gateway
from tests.ledger.lock_kit import hold_lock_in_another_process, stop
from thrifty.ledger import read_rows

LOCK_SECONDS = 11.0  # past the old failure point (10 s)


async def _wait_for_rows(path: Path, n: int, within: float) -> None:
    for _ in range(int(within / 0.2)):
        if len(read_rows(path)) >= n:
            return
        await asyncio.sleep(0.2)


async def test_a_locked_ledger_loses_no_paid_call_and_delays_no_answer(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    path = Path(settings.ledger.path)
    async with (
        running_gateway(settings) as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=30) as http,
    ):
        warm = await http.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "warm"}]},
        )
        assert warm.status_code == 200
        holder = hold_lock_in_another_process(path, LOCK_SECONDS)
        try:
            answers: list[httpx.Response] = []
            took: list[float] = []
            for i in range(12):  # one request every ~second, streamed and not, both dialects
                started = time.perf_counter()
                if i % 2:
                    body = {
                        "model": "claude-3-5-haiku-latest",
                        "max_tokens": 30,
                        "stream": i % 4 == 1,
                        "messages": [{"role": "user", "content": f"locked {i}"}],
                    }
                    answer = await http.post("/v1/messages", json=body)
                else:
                    body = {
                        "model": "gpt-4o-mini",
                        "stream": i % 4 == 0,
                        "messages": [{"role": "user", "content": f"locked {i}"}],
                    }
                    answer = await http.post("/v1/chat/completions", json=body)
                took.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
                answers.append(answer)
                await asyncio.sleep(max(0.0, 0.8 - took[-1]))
            assert holder.poll() is None  # the lock was held throughout
            # Only the first row that met the lock waited for it (lock_wait_s, 1 s); the
            # others joined it in the spool at once.
            assert max(took) < 2.5 and sorted(took)[-2] < 0.8, took
            assert len(read_rows(path)) == 1  # only the warm-up: the rest wait in the spool
            await asyncio.to_thread(holder.wait, 30)
        finally:
            stop(holder)
        await _wait_for_rows(path, 13, within=15)
    rows = {row.request_id: row for row in read_rows(path)}
    assert len(rows) == 13
    for answer in answers:
        row = rows[answer.headers["x-thrifty-request-id"]]
        assert row.status == 200 and row.failure is None
        assert row.cost_usd is not None and row.cost_usd > 0
        if "x-thrifty-cost-usd" in answer.headers:  # a stream says it in its closing comment
            assert row.cost_usd == Decimal(answer.headers["x-thrifty-cost-usd"])
