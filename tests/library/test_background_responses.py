"""Background Responses API calls made with the library are booked as the gateway books
them: the create is unpriced (it came back queued), the first ``retrieve_response`` (or
``cancel_response``) that returns the response finished books its cost once, under the
create's tenant and task, even when retrieves race; failures cost the booking, never the
answer.  Against the bundled simulator's background mode.

Rates: gpt-4o-mini 0.15 in / 0.60 out per million tokens; gpt-4o 2.50 / 10."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.api_requests import api_request
from thrifty.config import Settings
from thrifty.errors import BadRequest, UpstreamBadRequest
from thrifty.gateway import response_booking_rows
from thrifty.gateway.response_bookings import BackgroundBookings
from thrifty.gateway.response_owners import owners_path
from thrifty.ledger.store import LedgerWriteError
from thrifty.runtime import SyncThrifty, Thrifty
from thrifty.stored_responses import StoredResponse

M = Decimal(1_000_000)
SLOW = "[[sim:latency=1500]] "  # still running at the first retrieve


def settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(ledger={"path": str(tmp_path / "l.db")}, simulator={"port": 0}, **extra)


def usd(tokens_in: int, tokens_out: int, rate_in: str, rate_out: str) -> Decimal:
    return (tokens_in * Decimal(rate_in) + tokens_out * Decimal(rate_out)) / M


def pending(thrifty: Thrifty) -> int:
    with closing(sqlite3.connect(owners_path(thrifty.settings))) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM background_booking WHERE state = 'pending'"
        ).fetchone()
    return int(count)


async def until_finished(thrifty: Thrifty, response_id: str) -> StoredResponse:
    for _ in range(200):
        found = await thrifty.retrieve_response(response_id)
        if found.body["status"] not in ("queued", "in_progress"):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the background response never finished")


async def background(thrifty: Thrifty, text: str = "Quick", **fields: Any) -> str:
    body = {"model": "gpt-4o-mini", "input": text, "background": True, **fields}
    job = await thrifty.responses(body, task="reports", tenant="team-a")
    assert job.body is not None and job.body["status"] == "queued"
    response_id = job.body["id"]
    assert isinstance(response_id, str)
    return response_id


async def test_the_first_finished_retrieve_books_the_work_once(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        job_id = await background(thrifty, SLOW + "Write a long report")
        (create_row,) = thrifty.ledger.rows()
        assert create_row.cost_usd is None and create_row.price_source == "no_usage"
        assert pending(thrifty) == 1

        running = await thrifty.retrieve_response(job_id)
        assert running.body["status"] == "in_progress" and running.booking is None
        assert running.provider == "openai" and len(thrifty.ledger.rows()) == 1

        finished = await until_finished(thrifty, job_id)
        again = await thrifty.retrieve_response(job_id)
        rows = {r.request_id: r for r in thrifty.ledger.rows()}
    usage = finished.body["usage"]
    cost = usd(usage["input_tokens"], usage["output_tokens"], "0.15", "0.60")
    assert finished.booked_request_id == create_row.request_id + ".background"
    assert finished.booking is not None and finished.booking.cost is not None
    assert finished.booking.cost.usd == cost
    assert again.booking is None and again.booked_request_id is None  # booked once
    assert len(rows) == 2
    booked = rows[create_row.request_id + ".background"]
    assert booked.cost_usd == cost and booked.baseline_usd == cost and booked.saved_usd == 0
    assert (booked.tenant, booked.task, booked.endpoint) == ("team-a", "reports", "background")
    assert booked.usage.input_tokens == usage["input_tokens"] and booked.ts == create_row.ts


async def test_concurrent_retrieves_book_one_row(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        job_id = await background(thrifty)
        answers = await asyncio.gather(*(thrifty.retrieve_response(job_id) for _ in range(8)))
        rows = thrifty.ledger.rows()
    assert all(a.body["status"] == "completed" for a in answers)
    assert sum(a.booking is not None for a in answers) == 1
    assert len(rows) == 2 and sum(r.endpoint == "background" for r in rows) == 1


async def test_a_routed_truncated_job_books_its_routing_and_its_cut(tmp_path: Path) -> None:
    routing = {"tasks": {"summarize": "gpt-4o-mini"}}
    async with Thrifty(settings(tmp_path, routing=routing), environ={}) as thrifty:
        body = {
            "model": "gpt-4o",
            "input": "Tell me about the weather in Paris in spring, at length, in detail.",
            "max_output_tokens": 16,
            "background": True,
        }
        job = await thrifty.responses(body, task="summarize")
        assert job.body is not None
        done = await until_finished(thrifty, job.body["id"])
        booked = next(r for r in thrifty.ledger.rows() if r.endpoint == "background")
    assert done.body["status"] == "incomplete" and booked.truncated
    assert (booked.requested_model, booked.model) == ("gpt-4o", "gpt-4o-mini")
    tokens = (done.body["usage"]["input_tokens"], done.body["usage"]["output_tokens"])
    assert booked.cost_usd == usd(*tokens, "0.15", "0.60")
    assert booked.baseline_usd == usd(*tokens, "2.50", "10")
    assert booked.savings == {"routing": booked.baseline_usd - booked.cost_usd}


async def test_what_is_not_background_is_not_noted(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        await thrifty.responses({"model": "gpt-4o-mini", "input": "Foreground"})
        await thrifty.responses({"model": "gpt-4o-mini", "input": "x", "background": False})
        stopped = await background(thrifty, "[[sim:latency=600000]] Long job")
        cancelled = await thrifty.cancel_response(stopped)
        assert cancelled.body["status"] == "cancelled" and cancelled.booking is None
        assert pending(thrifty) == 1  # the cancelled one, which reported no usage
        rows = thrifty.ledger.rows()
    assert [r.endpoint for r in rows] == ["library"] * 3


async def test_a_failed_ledger_write_leaves_it_for_the_next_retrieve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = response_booking_rows.book
    failures = [LedgerWriteError("disk full")]

    async def flaky(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args)

    monkeypatch.setattr(response_booking_rows, "book", flaky)
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        job_id = await background(thrifty)
        first = await thrifty.retrieve_response(job_id)
        assert first.body["status"] == "completed" and first.booking is None
        assert pending(thrifty) == 1
        second = await thrifty.retrieve_response(job_id)
        assert second.booking is not None and pending(thrifty) == 0
        assert sum(r.endpoint == "background" for r in thrifty.ledger.rows()) == 1


async def test_an_unwritable_record_costs_the_booking_not_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: BackgroundBookings, pending: object) -> bool:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(BackgroundBookings, "note", full)
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        job_id = await background(thrifty)
        done = await thrifty.retrieve_response(job_id)
        assert done.body["status"] == "completed" and done.booking is None
        assert [r.endpoint for r in thrifty.ledger.rows()] == ["library"]


async def test_a_name_that_cannot_be_kept_is_refused_or_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The library takes the gateway's task and tenant names only (a tenant of 300
    characters, or with a control code, was booked as is and never noted for booking);
    what still cannot be kept (a model name over 256 characters) is logged, not silent."""
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        body = {"model": "gpt-4o-mini", "input": "Quick", "background": True}
        for tenant in ("t" * 65, "team\x1b[2J", "", "a b"):
            with pytest.raises(BadRequest, match="tenant must be 1 to 64"):
                await thrifty.responses(body, tenant=tenant)
        with pytest.raises(BadRequest, match="task must be 1 to 64"):
            await thrifty.call("responses", body, task="t" * 65)
        with pytest.raises(BadRequest, match="task must be 1 to 64"):
            await thrifty.chat({"model": "gpt-4o-mini", "messages": []}, task="\n")
        assert thrifty.ledger.rows() == []  # refused before any call
        request = api_request("responses", body, tenant="ok")
        queued = await thrifty.handle(request)
        thrifty.stored_responses.note(replace(request, requested_model="m" * 257), queued)
        assert thrifty.stored_responses.bookings.pending() == 0
    refused = [r for r in caplog.records if "not noted for booking" in r.getMessage()]
    assert len(refused) == 1 and "its cost will not be booked" in refused[0].getMessage()


async def test_a_row_already_in_the_ledger_is_not_booked_again(tmp_path: Path) -> None:
    """Another process sharing the ledger booked it first (its record file did not know):
    the ledger refuses the second row, nothing is raised and the record is settled."""
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        job_id = await background(thrifty)
        assert (await thrifty.retrieve_response(job_id)).booking is not None
        other = BackgroundBookings(owners_path(thrifty.settings))
        other.release(job_id)  # as if this runtime had never booked it
        other.close()
        again = await thrifty.retrieve_response(job_id)
        assert again.body["status"] == "completed" and again.booking is None
        assert pending(thrifty) == 0
        assert sum(r.endpoint == "background" for r in thrifty.ledger.rows()) == 1


async def test_bad_ids_and_provider_refusals_raise(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        for bad in ("", "x" * 129, "../chat/completions", "resp_1/cancel", "resp é", "a\r\nb"):
            with pytest.raises(BadRequest, match="response id"):
                await thrifty.retrieve_response(bad)
        with pytest.raises(UpstreamBadRequest) as unknown:
            await thrifty.retrieve_response("resp_unknown")
        assert unknown.value.status == 404
        finished = await thrifty.responses({"model": "gpt-4o-mini", "input": "hi"})
        assert finished.body is not None
        with pytest.raises(UpstreamBadRequest) as not_running:
            await thrifty.cancel_response(finished.body["id"])
        assert not_running.value.status == 400
        deleted = await thrifty.delete_response(finished.body["id"])
        assert deleted.body["deleted"] is True
        assert [r.endpoint for r in thrifty.ledger.rows()] == ["library"]


def test_the_blocking_facade_books_too(tmp_path: Path) -> None:
    with SyncThrifty(settings(tmp_path), environ={}) as thrifty:
        job = thrifty.call(
            "responses", {"model": "gpt-4o-mini", "input": "Quick", "background": True}
        )
        assert job.body is not None and job.body["status"] == "queued"
        found = thrifty.retrieve_response(job.body["id"])
        for _ in range(200):
            if found.body["status"] == "completed":
                break
            found = thrifty.retrieve_response(job.body["id"])
        assert found.booking is not None and found.booking.cost is not None


async def test_a_damaged_record_file_costs_the_booking_not_the_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        owners_path(thrifty.settings).write_bytes(b"not a database" * 100)
        job_id = await background(thrifty)  # noted nowhere: logged
        done = await thrifty.retrieve_response(job_id)
        assert done.body["status"] == "completed" and done.booking is None
        assert [r.endpoint for r in thrifty.ledger.rows()] == ["library"]
    logged = [r.getMessage() for r in caplog.records]
    assert any("its cost will not be booked" in line for line in logged)
