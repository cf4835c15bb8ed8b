"""``thrifty report`` shows the history lever per task: the tokens its cuts saved, the
cache reads they lost, and the net dollars booked, read back from the ledger's own
columns (written at booking time from the step's token change).  Priced by hand.

Rates (USD per million tokens, genai-prices' bundled data): claude-sonnet-4-6 3 in,
0.30 cache read, 3.75 cache write (5m).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

from tests.levers.fewer_tokens.test_history_stage import HundredPerMessage, conversation
from thrifty.config import HistorySettings
from thrifty.ledger import LedgerStore, SqliteLedgerReader, read_rows
from thrifty.ledger.render import render_report
from thrifty.ledger.report import HistoryLine, build_report, report_to_json
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.fewer_tokens.history.booking import ledger_detail
from thrifty.levers.fewer_tokens.history.stage import history_stage
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, reply
from thrifty.types import TokenChange, Usage

M = Decimal(1_000_000)
MOVED = Usage(input_tokens=520, cache_read_tokens=20, cache_write_5m_tokens=500)
STEADY = Usage(input_tokens=520, cache_read_tokens=500, cache_write_5m_tokens=20)
UNCACHED = Usage(input_tokens=520)


def test_the_detail_says_tokens_saved_and_reads_lost() -> None:
    change = TokenChange(input_tokens=-600, cache_read_tokens=-900, cache_write_5m_tokens=300)
    assert ledger_detail("budget: dropped 6 of 11 turns", change) == (
        "budget: dropped 6 of 11 turns (600 tokens saved, 300 cache reads lost)"
    )
    plain = TokenChange(input_tokens=-600)
    assert ledger_detail("x", plain) == "x (600 tokens saved, 0 cache reads lost)"


async def test_the_report_shows_history_per_task(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = LedgerStore(path)
    await store.open()
    try:
        for task, turns, usage in [
            ("chat", 11, MOVED),  # the cut moves to 6: 600 saved, 300 reads lost
            ("chat", 13, STEADY),  # it stays at 6: 600 saved, none lost
            ("plain", 11, UNCACHED),  # no cache at work: 600 saved at the input rate
            ("short", 4, UNCACHED),  # under the budget: nothing cut
        ]:
            history = history_stage(
                {None: HistorySettings(enabled=True, budget_tokens=1000)},
                None,
                HundredPerMessage(),
            )
            upstream = FakeUpstream(lambda req, usage=usage: reply(req, "ok", usage))
            handler = compose([ledger_stage(store, accountant()), history], upstream)
            request = conversation(turns, "anthropic", model="claude-sonnet-4-6")
            await handler(dataclasses.replace(request, task=task))
    finally:
        await store.close()
    report = await build_report(SqliteLedgerReader(path))
    chat_saved = (
        600 * Decimal("0.3") + 300 * Decimal("0.3") - 300 * Decimal("3.75")
    ) / M + 600 * Decimal("0.3") / M
    assert report.history_by_task == (
        HistoryLine("chat", 2, 1200, 300, chat_saved, 0),
        HistoryLine("plain", 1, 600, 0, 600 * Decimal(3) / M, 0),
    )
    assert chat_saved == Decimal("-0.000675")
    rows = read_rows(path)
    assert [(r.task, r.history_saved_tokens, r.history_cache_reads_lost) for r in rows] == [
        ("chat", 600, 300),
        ("chat", 600, 0),
        ("plain", 600, 0),
        ("short", None, None),
    ]
    text = render_report(report)
    assert "Chat history by task" in text
    assert any(
        line.split()[:4] == ["chat", "2", "1,200", "300"] and "-$0.000675" in line
        for line in text.splitlines()
    )
    (chat, plain) = report_to_json(report)["history_by_task"]
    assert chat == {
        "task": "chat",
        "requests": 2,
        "saved_tokens": 1200,
        "cache_reads_lost": 300,
        "saved_usd": "-0.000675",
        "saved_unknown": 0,
        "figures_unknown": 0,
    }
    assert plain["saved_usd"] == "0.0018"


async def test_no_history_table_without_cuts(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = LedgerStore(path)
    await store.open()
    try:
        handler = compose([ledger_stage(store, accountant())], FakeUpstream())
        await handler(conversation(4, "openai"))
    finally:
        await store.close()
    report = await build_report(SqliteLedgerReader(path))
    assert report.history_by_task == ()
    assert "Chat history" not in render_report(report)
