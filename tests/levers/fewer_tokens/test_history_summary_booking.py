"""A summary call is paid for whether or not its summary is used: a summary that comes back
empty sends the request unchanged, and its call is still booked against the history lever
and counted in the report's net dollars.  Priced by hand.

Rates (USD per million tokens, genai-prices' bundled data): gpt-4o 2.50 in / 10 out;
gpt-4o-mini 0.15 in / 0.60 out.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.levers.fewer_tokens.test_history_stage import conversation, stage_with
from thrifty.config import HistorySettings
from thrifty.ledger import LedgerStore, SqliteLedgerReader
from thrifty.ledger.report import build_report, report_to_json
from thrifty.ledger.stage import ledger_stage
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, reply
from thrifty.types import Usage

M = Decimal(1_000_000)
SUMMARY_CALL = (400 * Decimal("0.15") + 60 * Decimal("0.6")) / M  # 400 in, 60 out on mini
SETTINGS = HistorySettings(
    enabled=True, policy="summary", budget_tokens=1000, summary_model="gpt-4o-mini"
)


async def test_an_empty_summary_is_paid_for_and_the_report_nets_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = LedgerStore(path)
    await store.open()
    try:
        for summary in ("   ", "they said hello"):  # empty, then a summary that is used
            cheap = FakeUpstream(
                lambda req, text=summary: reply(
                    req, text, Usage(input_tokens=400, output_tokens=60)
                )
            )
            upstream = FakeUpstream(
                lambda req: reply(req, "ok", Usage(input_tokens=700, output_tokens=50))
            )
            handler = compose(
                [ledger_stage(store, accountant()), stage_with(SETTINGS, cheap)], upstream
            )
            await handler(conversation(11, "openai"))
        failed, used = store.rows()
    finally:
        await store.close()
    assert failed.savings == {"history": -SUMMARY_CALL}  # nothing saved, the call paid
    assert failed.cost_usd == SUMMARY_CALL + (700 * Decimal("2.5") + 50 * Decimal(10)) / M
    # 600 tokens dropped, the note counted as 100: 500 fewer on gpt-4o, less the call
    assert used.savings == {"history": 500 * Decimal("2.5") / M - SUMMARY_CALL}
    report = await build_report(SqliteLedgerReader(path))
    (line,) = report_to_json(report)["history_by_task"]
    assert line["requests"] == 2 and line["saved_tokens"] == 500
    assert Decimal(line["saved_usd"]) == 500 * Decimal("2.5") / M - 2 * SUMMARY_CALL
