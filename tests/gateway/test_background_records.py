"""The records of background responses waiting to be booked
(:mod:`thrifty.gateway.response_bookings`): claimed once across connections, released on
failure, bounded, expiring, and made only for background creates still running."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from thrifty.gateway.response_booking_rows import booking_of, finished_usage
from thrifty.gateway.response_bookings import BackgroundBookings, Pending, pending_of
from thrifty.testing import reply
from thrifty.types import ChatRequest, Step, Usage

USAGE = {
    "input_tokens": 2000,
    "input_tokens_details": {"cached_tokens": 1500},
    "output_tokens": 300,
    "output_tokens_details": {"reasoning_tokens": 120},
    "total_tokens": 2300,
}


def record(response_id: str = "resp_1", created_at: float = 100.0) -> Pending:
    return Pending(
        response_id=response_id,
        request_id="abc",
        tenant="team-a",
        task="reports",
        requested_model="gpt-4o",
        requested_alias="smart",
        model="gpt-4o-mini",
        provider="openai",
        created_at=created_at,
        model_lever="routing",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_record_is_claimed_once_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "owners.db"
    clock = Clock()
    one, two = BackgroundBookings(path, clock=clock), BackgroundBookings(path, clock=clock)
    assert one.note(record()) and not two.note(record())  # the first record is kept
    assert one.pending() == two.pending() == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # private, like the owner records
    claimed = two.claim("resp_1")
    assert claimed == record()  # every fact round-trips
    assert one.claim("resp_1") is None and two.claim("resp_1") is None
    assert one.pending() == 0
    one.release("resp_1")  # the row could not be written: the next retrieve tries again
    assert one.claim("resp_1") == record()
    assert one.claim("unknown") is None
    one.close()
    two.close()


def test_records_expire_and_are_bounded(tmp_path: Path) -> None:
    clock = Clock()
    bookings = BackgroundBookings(tmp_path / "owners.db", max_rows=10, ttl_s=50, clock=clock)
    for index in range(10):
        assert bookings.note(record(f"resp_{index}", created_at=clock.now + index))
    assert bookings.evicted_pending == 0
    bookings.note(record("resp_new", created_at=clock.now + 20))  # 11 > 10: the oldest go
    assert bookings.pending() == 9 and bookings.evicted_pending == 2
    assert bookings.claim("resp_0") is None and bookings.claim("resp_new") is not None
    clock.now += 100  # past the ttl: too old to book
    assert bookings.claim("resp_5") is None
    with pytest.raises(ValueError):
        BackgroundBookings(tmp_path / "x.db", max_rows=0)
    bookings.close()


def create(**body: object) -> ChatRequest:
    request = ChatRequest(
        dialect="openai",
        body={"model": "gpt-4o", "input": "x", **body},
        model="gpt-4o",
        requested_model="gpt-4o",
        api="responses",
        task="t",
        tenant="team-a",
    )
    return request


def test_only_a_running_background_create_is_kept() -> None:
    request = create(background=True)
    queued = reply(request, usage=Usage())
    queued.body = {"id": "resp_1", "status": "queued", "usage": None}
    queued.usage_reported = False
    queued.served = replace(request, model="gpt-4o-mini")
    queued.steps.append(Step("routing", "task t: gpt-4o -> gpt-4o-mini"))
    kept = pending_of("resp_1", request, queued)
    assert kept is not None
    assert (kept.model, kept.requested_model, kept.model_lever) == (
        "gpt-4o-mini",
        "gpt-4o",
        "routing",
    )
    assert (kept.tenant, kept.task, kept.request_id) == ("team-a", "t", request.request_id)

    assert pending_of("resp_1", create(), queued) is None  # not background
    finished = reply(request)  # it came back done, with usage: booked with its create
    assert pending_of("resp_1", request, finished) is None
    done_without_usage = reply(request, usage=Usage())
    done_without_usage.body = {"id": "resp_1", "status": "completed"}
    done_without_usage.usage_reported = False
    assert pending_of("resp_1", request, done_without_usage) is None
    long_task = pending_of("resp_1", replace(request, task="t" * 300), queued)
    assert long_task is not None and not long_task.in_bounds()  # note() refuses it


def test_the_booking_carries_the_finished_response_s_facts() -> None:
    body = {
        "id": "resp_1",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "flex",
        "output": [{"type": "web_search_call", "status": "completed"}],
        "usage": USAGE,
    }
    assert finished_usage(body)
    assert not finished_usage({**body, "status": "in_progress"})
    assert not finished_usage({**body, "usage": None})
    request, response = booking_of(record(), body)
    assert request.request_id == "abc.background" and request.endpoint == "background"
    assert (request.tenant, request.task, request.received_at) == ("team-a", "reports", 100.0)
    assert (request.model, request.requested_model, request.requested_alias) == (
        "gpt-4o-mini",
        "gpt-4o",
        "smart",
    )
    assert response.served is request and response.truncated
    assert response.usage == Usage(2000, 300, cache_read_tokens=1500, reasoning_tokens=120)
    assert response.model == "gpt-4o-mini-2024-07-18" and response.service_tier == "flex"
    assert response.server_tools == {"web_search": 1}
    assert [s.lever for s in response.steps] == ["routing"]
