"""Truncated answers, priced by hand and counted: the row's ``truncated`` column is the
answer's own fact (no lever involved), its money is the usage like any answer's, and
``thrifty report`` counts it per task.

Rates (USD per million tokens, genai-prices' bundled data): gpt-4o 2.50 in / 10 out;
claude-haiku-4-5 1 / 5.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.errors import StreamInterrupted
from thrifty.ledger import LedgerStore, SqliteLedgerReader, build_report, report_to_json
from thrifty.ledger.stage import ledger_stage
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Step, Usage

M = Decimal(1_000_000)
CUT = Usage(input_tokens=1000, output_tokens=50)


async def test_truncated_rows_are_priced_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = LedgerStore(path)
    await store.open()

    def answer(request: ChatRequest) -> ChatResponse:
        kind = request.body["messages"][0]["content"]
        if kind == "cut":
            return reply(request, "Paris in spr", CUT, truncated=True)
        if kind == "whole":
            return reply(request, "done", CUT)
        if kind == "stream-cut":
            return stream_reply(request, ("Paris", " in"), CUT, truncated=True)
        if kind == "stream-broken":
            return stream_reply(request, ("Paris", " in"), CUT, truncated=True, fail_after=1)
        replayed = reply(request, "Paris in spr", CUT, truncated=True)  # a replay: no call
        replayed.served = None
        replayed.steps.append(Step("idempotency", "replay", avoided=CUT))
        return replayed

    handler = compose([ledger_stage(store, accountant())], FakeUpstream(answer))
    try:
        for kind, task, model, dialect in [
            ("cut", "tight", "gpt-4o", "openai"),
            ("whole", "tight", "gpt-4o", "openai"),
            ("cut", "tight", "claude-haiku-4-5", "anthropic"),
            ("replay", "tight", "gpt-4o", "openai"),
            ("whole", "roomy", "gpt-4o", "openai"),
        ]:
            request = request_for(model, kind, task=task, dialect=dialect)  # type: ignore[arg-type]
            await handler(request)
        streamed = request_for("gpt-4o", "stream-cut", task="tight", stream=True)
        await collect(await handler(streamed))
        broken = request_for("gpt-4o", "stream-broken", task="tight", stream=True)
        with pytest.raises(StreamInterrupted):
            await collect(await handler(broken))
        booked = store.rows()
    finally:
        await store.close()

    gpt4o = (1000 * Decimal("2.50") + 50 * Decimal(10)) / M
    haiku = (1000 * Decimal(1) + 50 * Decimal(5)) / M
    assert gpt4o == Decimal("0.003") and haiku == Decimal("0.00125")
    got = [(r.task, r.truncated, r.cost_usd, r.stream) for r in booked]
    assert got == [
        ("tight", True, gpt4o, False),
        ("tight", False, gpt4o, False),
        ("tight", True, haiku, False),
        ("tight", True, Decimal(0), False),  # replayed: no call, still a cut answer
        ("roomy", False, gpt4o, False),
        ("tight", True, gpt4o, True),
        ("tight", False, None, True),  # cut before its final event: it never said so
    ]
    assert booked[-1].failure == "mid_stream"

    report = await build_report(SqliteLedgerReader(path))
    assert report_to_json(report)["truncated_by_task"] == [
        {"task": "tight", "truncated": 4, "requests": 6}
    ]
