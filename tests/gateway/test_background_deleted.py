"""A background response deleted while still pending is settled: its booking record is
dropped (logged with the reason) and ``thrifty responses pending`` no longer lists it
(it used to stay listed forever), through the gateway and through the library.  The
shutdown line counting what waits is true for both (it said "through the gateway")."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import openai
import pytest

from tests.gateway.conftest import make_settings, running_gateway
from thrifty.cli import main
from thrifty.config import Settings
from thrifty.errors import UpstreamBadRequest
from thrifty.gateway.response_bookings import BackgroundBookings
from thrifty.runtime import Thrifty

LONG = "[[sim:latency=600000]] Long job"


def listed(ledger: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert main(["responses", "pending", "--ledger", str(ledger), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["pending"] == len(found["responses"])
    return [r["response_id"] for r in found["responses"]]


async def test_the_gateway_settles_a_deleted_pending_response(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="thrifty")
    settings = make_settings(tmp_path)
    ledger = Path(settings.ledger.path)
    async with running_gateway(settings) as gw:
        client = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key="app-key", max_retries=0)
        async with client:
            gone = await client.responses.create(model="gpt-4o-mini", input=LONG, background=True)
            kept = await client.responses.create(model="gpt-4o-mini", input=LONG, background=True)
            assert sorted(listed(ledger, capsys)) == sorted([gone.id, kept.id])
            deleted = await client.responses.delete(gone.id)
            assert deleted is None or getattr(deleted, "deleted", True)
            assert listed(ledger, capsys) == [kept.id]
    logged = [r.getMessage() for r in caplog.records]
    assert any(gone.id in line and "deleted before it was booked" in line for line in logged)
    assert not any(kept.id in line and "deleted" in line for line in logged)
    assert any(
        "1 background response(s) created through thrifty (gateway or library)" in line
        for line in logged
    )


async def test_the_library_settles_a_deleted_pending_response(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="thrifty")
    ledger = tmp_path / "l.db"
    settings = Settings(ledger={"path": str(ledger)}, simulator={"port": 0})
    async with Thrifty(settings, environ={}) as thrifty:
        ids = []
        for _ in range(2):
            job = await thrifty.responses(
                {"model": "gpt-4o-mini", "input": LONG, "background": True}
            )
            assert job.body is not None
            ids.append(job.body["id"])
        gone, kept = ids
        assert sorted(listed(ledger, capsys)) == sorted(ids)
        await thrifty.delete_response(gone)
        assert listed(ledger, capsys) == [kept]
        # Deleting it again (the provider says it is unknown) changes nothing here.
        with pytest.raises(UpstreamBadRequest) as caught:
            await thrifty.delete_response(gone)
        assert caught.value.status == 404
        assert listed(ledger, capsys) == [kept]
    logged = [r.getMessage() for r in caplog.records]
    assert sum(gone in line and "deleted before it was booked" in line for line in logged) == 1
    assert any(
        "1 background response(s) created through thrifty (gateway or library)" in line
        for line in logged
    )


async def test_a_record_file_that_fails_costs_the_settling_not_the_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="thrifty")

    def broken(self: BackgroundBookings, response_id: str) -> bool:
        raise sqlite3.OperationalError("disk I/O error")

    settings = Settings(ledger={"path": str(tmp_path / "l.db")}, simulator={"port": 0})
    async with Thrifty(settings, environ={}) as thrifty:
        job = await thrifty.responses({"model": "gpt-4o-mini", "input": LONG, "background": True})
        assert job.body is not None
        monkeypatch.setattr(BackgroundBookings, "drop", broken)
        deleted = await thrifty.delete_response(job.body["id"])
        assert deleted.body.get("deleted") is True
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("could not be settled (disk I/O error)" in line for line in logged), logged
