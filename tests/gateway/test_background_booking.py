"""Background Responses API calls are booked once their work is done, with the official
``openai`` SDK against the simulator's background mode: the create is unpriced (it came
back queued, without usage), the first retrieve (or cancel) that returns the response
finished books its cost once, under the create's tenant and task, even when several
retrieves race; what is never retrieved finished is counted, not booked.

Rates: gpt-4o-mini 0.15 in / 0.60 out per million tokens; gpt-4o 2.50 / 10."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings, running_gateway
from thrifty.gateway import response_booking_rows
from thrifty.gateway.response_bookings import BackgroundBookings
from thrifty.gateway.response_owners import owners_path
from thrifty.ledger import LedgerRow
from thrifty.ledger.store import LedgerWriteError

M = Decimal(1_000_000)
SLOW = "[[sim:latency=1500]] "  # still running at the first retrieve


def usd(tokens_in: int, tokens_out: int, rate_in: str, rate_out: str) -> Decimal:
    return (tokens_in * Decimal(rate_in) + tokens_out * Decimal(rate_out)) / M


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path,
        routing={"tasks": {"summarize": "cheap"}, "aliases": {"cheap": "gpt-4o-mini"}},
    )
    async with running_gateway(settings) as running:
        yield running


def app(gateway: Gateway, tenant: str = "team-a") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=gateway.url + "/v1",
        api_key="app-key",
        max_retries=0,
        default_headers={"x-thrifty-tenant": tenant},
    )


def pending(gateway: Gateway) -> int:
    """Background responses waiting to be booked, read from the gateway's record file."""
    with closing(sqlite3.connect(owners_path(gateway.thrifty.settings))) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM background_booking WHERE state = 'pending'"
        ).fetchone()
    return int(count)


async def until_finished(client: openai.AsyncOpenAI, response_id: str) -> Any:
    for _ in range(200):
        raw = await client.responses.with_raw_response.retrieve(response_id)
        if raw.parse().status not in ("queued", "in_progress"):
            return raw
        await asyncio.sleep(0.05)
    raise AssertionError("the background response never finished")


def by_id(rows: list[LedgerRow]) -> dict[str, LedgerRow]:
    return {row.request_id: row for row in rows}


async def test_the_first_finished_retrieve_books_the_work_once(gateway: Gateway) -> None:
    async with app(gateway) as client:
        created = await client.responses.with_raw_response.create(
            model="gpt-4o-mini",
            input=SLOW + "Write a long report",
            background=True,
            extra_headers={"x-thrifty-task": "reports"},
        )
        job = created.parse()
        assert job.status == "queued" and job.usage is None
        create_id = created.headers["x-thrifty-request-id"]
        (create_row,) = gateway.rows()
        assert create_row.cost_usd is None and create_row.price_source == "no_usage"
        assert pending(gateway) == 1

        running = await client.responses.with_raw_response.retrieve(job.id)
        assert running.parse().status == "in_progress"
        assert "x-thrifty-cost-usd" not in running.headers and len(gateway.rows()) == 1

        finished = await until_finished(client, job.id)
        done = finished.parse()
        assert done.status == "completed" and done.usage is not None
        assert finished.headers["x-thrifty-request-id"] == create_id + ".background"
        again = await client.responses.with_raw_response.retrieve(job.id)
        assert "x-thrifty-cost-usd" not in again.headers  # booked once
    rows = by_id(gateway.rows())
    assert len(rows) == 2 and pending(gateway) == 0
    booked = rows[create_id + ".background"]
    cost = usd(done.usage.input_tokens, done.usage.output_tokens, "0.15", "0.60")
    assert booked.cost_usd == cost and booked.baseline_usd == cost and booked.saved_usd == 0
    assert finished.headers["x-thrifty-cost-usd"] == f"{cost:f}".rstrip("0")
    assert (booked.tenant, booked.task, booked.endpoint) == ("team-a", "reports", "background")
    assert (booked.model, booked.requested_model, booked.provider) == (
        "gpt-4o-mini",
        "gpt-4o-mini",
        "openai",
    )
    assert booked.usage.input_tokens == done.usage.input_tokens
    assert booked.ts == create_row.ts and not booked.truncated


async def test_concurrent_retrieves_book_one_row(gateway: Gateway) -> None:
    async with app(gateway) as client:
        job = await client.responses.create(model="gpt-4o-mini", input="Quick", background=True)
        answers = await asyncio.gather(
            *(client.responses.with_raw_response.retrieve(job.id) for _ in range(8))
        )
    assert all(a.parse().status == "completed" for a in answers)
    assert sum("x-thrifty-cost-usd" in a.headers for a in answers) == 1
    rows = gateway.rows()
    assert len(rows) == 2 and sum(r.endpoint == "background" for r in rows) == 1


async def test_a_routed_truncated_job_books_its_routing_and_its_cut(gateway: Gateway) -> None:
    async with app(gateway, tenant="team-b") as client:
        job = await client.responses.create(
            model="gpt-4o",
            input="Tell me about the weather in Paris in spring, at length, with many details.",
            max_output_tokens=16,
            background=True,
            extra_headers={"x-thrifty-task": "summarize"},
        )
        done = (await until_finished(client, job.id)).parse()
    assert done.status == "incomplete" and done.usage is not None
    booked = next(r for r in gateway.rows() if r.endpoint == "background")
    assert booked.truncated and booked.tenant == "team-b"
    assert (booked.requested_model, booked.model) == ("gpt-4o", "gpt-4o-mini")
    tokens = (done.usage.input_tokens, done.usage.output_tokens)
    assert booked.cost_usd == usd(*tokens, "0.15", "0.60")
    assert booked.baseline_usd == usd(*tokens, "2.50", "10")
    assert booked.savings == {"routing": booked.baseline_usd - booked.cost_usd}


async def test_what_is_not_booked_is_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="thrifty.gateway")
    async with running_gateway(make_settings(tmp_path)) as gw, app(gw) as client:
        never = await client.responses.create(
            model="gpt-4o-mini", input="Nobody asks again", background=True
        )
        stopped = await client.responses.create(
            model="gpt-4o-mini", input="[[sim:latency=600000]] Long job", background=True
        )
        cancelled = await client.responses.with_raw_response.cancel(stopped.id)
        assert cancelled.parse().status == "cancelled" and cancelled.parse().usage is None
        assert "x-thrifty-cost-usd" not in cancelled.headers
        await client.responses.create(model="gpt-4o-mini", input="Foreground")
        with pytest.raises(openai.BadRequestError, match="store"):
            await client.responses.create(
                model="gpt-4o-mini", input="x", background=True, store=False
            )
        assert pending(gw) == 2
        assert {r.endpoint for r in gw.rows()} == {"/v1/responses"}
        assert never.id != stopped.id
    logged = [r.getMessage() for r in caplog.records]
    assert "noted 1 background response(s) so far, booked when retrieved finished" in logged
    assert any(
        "2 background response(s) created through thrifty (gateway or library) are not booked yet"
        in line
        for line in logged
    )


async def test_a_failed_ledger_write_leaves_it_for_the_next_retrieve(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = response_booking_rows.book
    failures = [LedgerWriteError("disk full")]

    async def flaky(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args)

    monkeypatch.setattr(response_booking_rows, "book", flaky)
    async with app(gateway) as client:
        job = await client.responses.create(model="gpt-4o-mini", input="Quick", background=True)
        first = await client.responses.with_raw_response.retrieve(job.id)
        assert first.parse().status == "completed"  # the app gets its answer regardless
        assert "x-thrifty-cost-usd" not in first.headers and pending(gateway) == 1
        second = await client.responses.with_raw_response.retrieve(job.id)
        assert "x-thrifty-cost-usd" in second.headers and pending(gateway) == 0
    assert sum(r.endpoint == "background" for r in gateway.rows()) == 1


async def test_a_row_already_in_the_ledger_is_not_booked_again(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another gateway process sharing the ledger booked it first (its own record store
    did not know): the ledger refuses the second row and nothing is raised."""
    async with app(gateway) as client:
        job = await client.responses.create(model="gpt-4o-mini", input="Quick", background=True)
        await client.responses.retrieve(job.id)
        other = BackgroundBookings(owners_path(gateway.thrifty.settings))
        other.release(job.id)  # as if this process had never booked it
        other.close()
        again = await client.responses.with_raw_response.retrieve(job.id)
        assert again.parse().status == "completed"
        assert "x-thrifty-cost-usd" not in again.headers
        assert pending(gateway) == 0  # the ledger's refusal settles it: not retried
    assert sum(r.endpoint == "background" for r in gateway.rows()) == 1


async def test_an_unreadable_record_store_costs_the_booking_not_the_answer(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="thrifty.gateway")

    def broken(self: BackgroundBookings, response_id: str) -> bool:
        raise sqlite3.OperationalError("disk I/O error")

    async with app(gateway) as client:
        job = await client.responses.create(model="gpt-4o-mini", input="Quick", background=True)
        monkeypatch.setattr(BackgroundBookings, "waiting", broken)
        answer = await client.responses.with_raw_response.retrieve(job.id)
        assert answer.parse().status == "completed" and "x-thrifty-cost-usd" not in answer.headers
        monkeypatch.undo()  # readable again: the next retrieve books it
        again = await client.responses.with_raw_response.retrieve(job.id)
        assert "x-thrifty-cost-usd" in again.headers
    assert any("booking record unreadable" in r.getMessage() for r in caplog.records)


async def test_a_record_that_cannot_be_kept_is_logged(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="thrifty.gateway")

    def full(self: BackgroundBookings, pending: object) -> bool:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(BackgroundBookings, "note", full)
    async with app(gateway) as client:
        job = await client.responses.create(model="gpt-4o-mini", input="Quick", background=True)
        assert job.status == "queued"  # the app gets its answer
        done = await client.responses.with_raw_response.retrieve(job.id)
        assert "x-thrifty-cost-usd" not in done.headers  # nothing to book it from
    assert pending(gateway) == 0
    assert any("its cost will not be booked" in r.getMessage() for r in caplog.records)


async def test_a_claim_that_cannot_be_released_is_logged(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def no_ledger(*args: Any) -> Any:
        raise LedgerWriteError("disk full")

    def stuck(self: BackgroundBookings, response_id: str) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(response_booking_rows, "book", no_ledger)
    monkeypatch.setattr(BackgroundBookings, "release", stuck)
    async with app(gateway) as client:
        job = await client.responses.create(model="gpt-4o-mini", input="Quick", background=True)
        answer = await client.responses.with_raw_response.retrieve(job.id)
        assert answer.parse().status == "completed"
    logged = [r.getMessage() for r in caplog.records]
    assert any("could not be booked" in line for line in logged)
    assert any("will not be booked" in line for line in logged)
