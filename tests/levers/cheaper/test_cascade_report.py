"""``thrifty report`` gives the cascade's escalation rate per task, from real ledger rows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.levers.cheaper.cascade_kit import SONNET, UPSTREAMS, plans
from thrifty.cli import main
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.cheaper.cascade.plan import Plans
from thrifty.levers.cheaper.cascade.report import CascadeLine, cascade_lines
from thrifty.levers.cheaper.cascade.stage import cascade_stage
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse


def answer(req: ChatRequest) -> ChatResponse:
    said = "fine" if "easy" in str(req.body["messages"]) else "unsure"
    return stream_reply(req, [said]) if req.stream else reply(req, said)


async def fill(path: Path) -> None:
    impact, other = plans("impact", regex="fine"), plans("other", stream_first_tier=True)
    every = Plans({**impact.by_task, **other.by_task}, None, frozenset())
    store = LedgerStore(path)
    await store.open()
    try:
        handler = compose(
            [ledger_stage(store, accountant()), cascade_stage(every, UPSTREAMS)],
            FakeUpstream(answer),
        )
        asks = [("impact", "easy")] * 3 + [("impact", "hard")] + [("other", "easy")]
        for task, text in asks:
            stream = task == "other"
            request = request_for(SONNET, text, dialect="anthropic", task=task, stream=stream)
            response = await handler(request)
            if response.stream is not None:
                await collect(response)
        await handler(request_for(SONNET, "no cascade", dialect="anthropic", task="plain"))
    finally:
        await store.close()


async def test_escalation_rate_per_task(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    await fill(path)
    lines = cascade_lines(path)
    assert lines == [CascadeLine("impact", 3, 1, 0), CascadeLine("other", 0, 0, 1)]
    assert lines[0].escalation_rate == 0.25 and lines[1].escalation_rate is None
    assert cascade_lines(path, since=0, until=1) == []


def test_the_report_command_shows_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.db"
    asyncio.run(fill(path))
    assert main(["report", "--ledger", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["cascade"][0] == {
        "task": "impact",
        "requests": 4,
        "accepted_tier_0": 3,
        "escalated": 1,
        "streamed_tier_0": 0,
        "escalation_rate": 0.25,
    }
    assert main(["report", "--ledger", str(path)]) == 0
    text = capsys.readouterr().out
    section = text.split("Cascade (escalation rate per task)")[1]
    impact_line = next(line for line in section.splitlines() if line.strip().startswith("impact"))
    assert impact_line.split()[1:] == ["4", "3", "1", "25.0%"]
