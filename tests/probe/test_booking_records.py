"""The background booking records as an attacker (or a bad disk) leaves them: a record whose
facts no longer decode must cost its booking, never the app's answer (a retrieve was a
500); every stored field is bounded; the listing command reads the file without changing
it."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import openai
import pytest

from tests.gateway.conftest import make_settings, running_gateway
from thrifty.gateway.response_bookings import MAX_FIELD, BackgroundBookings, Pending
from thrifty.gateway.response_owners import owners_path

NOW = 1_790_000_000.0


def record(response_id: str = "resp_1", **fields: object) -> Pending:
    values: dict[str, object] = {
        "response_id": response_id,
        "request_id": "r1",
        "tenant": "team-a",
        "task": "reports",
        "requested_model": "gpt-4o-mini",
        "requested_alias": None,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "created_at": NOW,
    }
    values.update(fields)
    return Pending(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "facts", [b"not json", b"[]", b'{"tenant": "a"}', b'{"request_id": 1, "model": {}}', b"\xff"]
)
async def test_an_undecodable_record_costs_the_booking_not_the_answer(
    tmp_path: Path, facts: bytes
) -> None:
    async with running_gateway(make_settings(tmp_path)) as gw:
        async with openai.AsyncOpenAI(
            base_url=gw.url + "/v1", api_key="k", max_retries=0
        ) as client:
            job = await client.responses.create(model="gpt-4o-mini", input="Quick", background=True)
            with closing(sqlite3.connect(owners_path(gw.thrifty.settings))) as db:
                db.execute("UPDATE background_booking SET facts = ?", (facts,))
                db.commit()
            await asyncio.sleep(0.05)
            done = await client.responses.retrieve(job.id)
            assert done.status == "completed"
            again = await client.responses.with_raw_response.retrieve(job.id)
            assert "x-thrifty-cost-usd" not in again.headers
        assert [r.endpoint for r in gw.rows()] == ["/v1/responses"]


def test_an_undecodable_record_is_settled_and_left_out_of_the_list(tmp_path: Path) -> None:
    bookings = BackgroundBookings(tmp_path / "r.db", clock=lambda: NOW)
    bookings.note(record("resp_bad"))
    bookings.note(record("resp_good", created_at=NOW + 1))
    with closing(sqlite3.connect(tmp_path / "r.db")) as db:
        db.execute("UPDATE background_booking SET facts = x'00' WHERE response_id = 'resp_bad'")
        db.commit()
    assert [p.response_id for p in bookings.waiting_list(10)] == ["resp_good"]
    assert bookings.claim("resp_bad") is None
    assert bookings.pending() == 1  # the bad one will never be booked: no longer waits
    bookings.close()


@pytest.mark.parametrize(
    "field",
    ["request_id", "tenant", "task", "requested_model", "requested_alias", "model", "provider"],
)
def test_every_field_is_bounded(tmp_path: Path, field: str) -> None:
    bookings = BackgroundBookings(tmp_path / "r.db", clock=lambda: NOW)
    assert not bookings.note(record(**{field: "x" * (MAX_FIELD + 1)}))
    assert bookings.note(record(**{field: "x" * MAX_FIELD}))
    assert not bookings.note(record("r" * 129))  # a response id is at most 128 characters
    assert not bookings.note(record("../x"))
    assert bookings.pending() == 1
    bookings.close()
