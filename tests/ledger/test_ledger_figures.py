"""The row columns ``truncated``, ``history_saved_tokens`` and ``history_cache_reads_lost``
(migration 3): the first from the answer's own ``truncated`` fact, the others from the
levers' steps at booking time; bounded when stored, backfilled from the detail text of
older rows, and what ``thrifty report`` counts (not the text)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.errors import UpstreamUnavailable
from thrifty.ledger import LedgerStore, SqliteLedgerReader, read_rows
from thrifty.ledger.figures import TRUNCATED_MARK, StepFigures
from thrifty.ledger.render import render_report
from thrifty.ledger.report import HistoryLine, Truncations, build_report, report_to_json
from thrifty.ledger.row import COLUMNS, MAX_TOKEN_FIGURE, to_params, widened
from thrifty.ledger.schema import MIGRATIONS, connect
from thrifty.ledger.spool import _decode, _encode
from thrifty.ledger.stage import ledger_stage
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, request_for
from thrifty.types import (
    Call,
    ChatRequest,
    ChatResponse,
    Step,
    TokenChange,
    Usage,
    attach_lever_calls,
)

from .conftest import make_row

CUT = TokenChange(input_tokens=-600, cache_read_tokens=-900, cache_write_5m_tokens=300)


def summary_call() -> Call:
    return Call(model="gpt-4o-mini", provider="openai", usage=Usage(100, 20), lever="history")


# -- from the steps ---------------------------------------------------------------------


def test_figures_come_from_the_steps() -> None:
    assert StepFigures.of([]) == StepFigures(None, None)
    cut = Step("history", "budget: dropped 6 of 11 turns", tokens=CUT)
    assert StepFigures.of([cut]) == StepFigures(600, 300)
    plain = Step("history", "x", tokens=TokenChange(input_tokens=-50))
    assert StepFigures.of([plain]) == StepFigures(50, 0)


def test_only_the_levers_own_steps_count() -> None:
    other = Step("compress", "history-saved-tokens=5 (quoted by another lever)")
    capped = Step("output", "max output tokens unset -> 100")
    no_tokens = Step("history", "summary failed")
    assert StepFigures.of([other, capped, no_tokens]) == StepFigures(None, None)


def test_a_history_call_without_a_cut_counts_zero_not_unknown() -> None:
    assert StepFigures.of([], [summary_call()]) == StepFigures(0, 0)
    routing = Call(model="m", provider="p", usage=Usage(1, 1), lever="cascade")
    assert StepFigures.of([], [routing]) == StepFigures(None, None)


# -- stored, bounded --------------------------------------------------------------------


async def test_the_figures_round_trip_and_are_bounded(store: LedgerStore) -> None:
    rows = [
        make_row(truncated=True, history_saved_tokens=600, history_cache_reads_lost=300),
        make_row(history_saved_tokens=10**15, history_cache_reads_lost=-5),
        make_row(),
    ]
    for row in rows:
        await store.record(row)
    got = [(r.truncated, r.history_saved_tokens, r.history_cache_reads_lost) for r in store.rows()]
    assert got == [(True, 600, 300), (False, MAX_TOKEN_FIGURE, 0), (False, None, None)]


def test_the_schema_refuses_values_out_of_bounds(tmp_path: Path) -> None:
    conn = connect(tmp_path / "ledger.db", create=True)
    params, _, _ = to_params(make_row())
    named = dict(zip(COLUMNS, params, strict=True))
    insert = f"INSERT INTO requests ({', '.join(named)}) VALUES ({', '.join('?' * len(named))})"
    try:
        for column, bad in [
            ("truncated", 2),
            ("history_saved_tokens", -1),
            ("history_cache_reads_lost", MAX_TOKEN_FIGURE + 1),
        ]:
            with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
                conn.execute(insert, list({**named, column: bad}.values()))
    finally:
        conn.close()


def test_a_spooled_row_of_the_older_width_gets_the_new_columns_defaults() -> None:
    params, savings, calls = to_params(make_row(truncated=True, history_saved_tokens=5))
    older = params[: len(COLUMNS) - 3]
    row, _, _ = _decode(_encode(older, savings, calls))
    assert row == (*older, 0, None, None)
    assert widened(params) == params
    assert widened(params[:-1]) == (*params[:-1], None)


# -- booked by the ledger stage ---------------------------------------------------------


@pytest.mark.parametrize("truncated", [True, False])
async def test_the_ledger_stage_writes_the_figures(store: LedgerStore, truncated: bool) -> None:
    def answer(request: ChatRequest) -> ChatResponse:
        response = ChatResponse(
            dialect="openai",
            model="gpt-4o",
            provider="openai",
            usage=Usage(1000, 10),
            truncated=truncated,
        )
        response.served = request
        response.steps = [
            # The text of a step is not the fact: only ``response.truncated`` is.
            Step("output", f"{TRUNCATED_MARK} at 10 tokens"),
            Step("history", "budget: dropped 6 of 11 turns", tokens=TokenChange(input_tokens=-80)),
        ]
        return response

    handler = compose([ledger_stage(store, accountant())], FakeUpstream(answer))
    await handler(request_for("gpt-4o", "q"))
    (row,) = store.rows()
    assert (row.truncated, row.history_saved_tokens, row.history_cache_reads_lost) == (
        truncated,
        80,
        0,
    )


async def test_a_failed_request_after_a_summary_call_books_zero_tokens(
    store: LedgerStore,
) -> None:
    def fail(request: ChatRequest) -> ChatResponse:
        exc = UpstreamUnavailable("down")
        attach_lever_calls(exc, [summary_call()])
        raise exc

    handler = compose([ledger_stage(store, accountant())], FakeUpstream(fail))
    with pytest.raises(UpstreamUnavailable):
        await handler(request_for("gpt-4o", "q"))
    (row,) = store.rows()
    assert (row.history_saved_tokens, row.history_cache_reads_lost) == (0, 0)
    assert row.savings["history"] is not None and row.savings["history"] < 0


# -- older ledgers ----------------------------------------------------------------------


def _v2_ledger(path: Path) -> None:
    """A ledger at migration 2 with the figures in its rows' detail text only."""
    conn = connect(path, create=True, migrations=MIGRATIONS[:2])
    insert = (
        "INSERT INTO requests (request_id, ts, task, dialect, endpoint, requested_model,"
        " model, provider, stream, calls, input_tokens, output_tokens, cache_read_tokens,"
        " cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, cost_pusd,"
        " baseline_pusd, saved_pusd, cost_estimated, price_source, latency_ms, status, detail)"
        " VALUES (?, 1.0, ?, 'openai', 'library', 'gpt-4o', 'gpt-4o', 'openai', 0, 1, 100,"
        " 10, 0, 0, 0, 0, 10, 20, 10, 0, 'genai-prices', 1.0, 200, ?)"
    )
    marked = "budget: dropped 6 of 11 turns (history-saved-tokens=600 history-cache-reads-lost=300)"
    for request_id, task, detail in [
        ("cut", "chat", f"output: max output tokens unset -> 100; {TRUNCATED_MARK} at 100"),
        ("marked", "chat", marked),
        ("unmarked", "chat", "budget: dropped 6 of 11 turns"),
        ("plain", "chat", None),
        ("huge", "big", "last_n: (history-saved-tokens=99999999999999 history-cache-reads-lost=x)"),
    ]:
        conn.execute(insert, (request_id, task, detail))
    for request_id in ("marked", "unmarked", "huge"):
        conn.execute("INSERT INTO savings VALUES (?, 'history', 10)", (request_id,))
    conn.close()


async def test_migration_3_fills_old_rows_from_their_detail(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    _v2_ledger(path)
    rows = {r.request_id: r for r in read_rows(path)}  # applies migration 3
    figures = {
        k: (r.truncated, r.history_saved_tokens, r.history_cache_reads_lost)
        for k, r in rows.items()
    }
    assert figures == {
        "cut": (True, None, None),
        "marked": (False, 600, 300),
        "unmarked": (False, None, None),  # unknown: not in its detail
        "plain": (False, None, None),
        "huge": (False, MAX_TOKEN_FIGURE, 0),  # bounded; a number that is not: 0
    }
    report = await build_report(SqliteLedgerReader(path))
    assert report.truncated_by_task == (Truncations("chat", 1, 4),)
    assert report.history_by_task == (
        HistoryLine("big", 1, MAX_TOKEN_FIGURE, 0, Decimal("1e-11"), 0, 0),
        HistoryLine("chat", 2, 600, 300, Decimal("2e-11"), 0, 1),
    )
    text = render_report(report)
    assert "1 requests booked by an older thrifty without these figures" in text
    assert report_to_json(report)["history_by_task"][1]["figures_unknown"] == 1


async def test_the_report_counts_the_columns_not_the_text(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = LedgerStore(path)
    await store.open()
    try:
        await store.record(make_row(truncated=True, detail=None))
        await store.record(make_row(detail=f"{TRUNCATED_MARK} (text only)"))
        long_detail = "x" * 5000  # clipped when stored: the figures are not in the text
        await store.record(
            make_row(
                detail=long_detail,
                savings={"history": Decimal(1)},
                history_saved_tokens=700,
                history_cache_reads_lost=0,
            )
        )
    finally:
        await store.close()
    report = await build_report(SqliteLedgerReader(path))
    assert report.truncated_by_task == (Truncations("summarise", 1, 3),)
    (line,) = report.history_by_task
    assert (line.saved_tokens, line.figures_unknown) == (700, 0)
    assert "older thrifty" not in render_report(report)
