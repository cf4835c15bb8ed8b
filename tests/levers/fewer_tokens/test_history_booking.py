"""What a cut is booked as when the prompt cache is at work: the dropped tokens as the
cache reads they would have been, and on the request where the cut moves, the kept part's
lost cache (written again, or sent uncached) as reads lost.  Priced by hand.

Rates (USD per million tokens, genai-prices' bundled data): claude-sonnet-4-6 3 in,
0.30 cache read, 3.75 cache write (5m), 15 out.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from tests.levers.fewer_tokens.test_history_stage import HundredPerMessage, conversation
from thrifty.config import HistorySettings
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.fewer_tokens.history.booking import CutFacts, booked_change, cut_facts
from thrifty.levers.fewer_tokens.history.cuts import MessageFacts
from thrifty.levers.fewer_tokens.history.stage import history_stage
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, collect, reply, stream_reply
from thrifty.types import TokenChange, Usage

M = Decimal(1_000_000)


def test_without_caching_the_dropped_tokens_are_plain_input() -> None:
    usage = Usage(input_tokens=900, output_tokens=10)
    assert booked_change(usage, CutFacts(600, True, 500)) == TokenChange(input_tokens=-600)


def test_with_caching_they_are_reads_and_a_moved_cut_loses_the_kept_part() -> None:
    steady = Usage(input_tokens=900, cache_read_tokens=800, output_tokens=10)
    assert booked_change(steady, CutFacts(600, False, 700)) == TokenChange(
        input_tokens=-600, cache_read_tokens=-600
    )
    moved = Usage(input_tokens=900, cache_read_tokens=200, cache_write_5m_tokens=650)
    # 700 uncached tokens, 500 of them kept from before: 500 reads lost, all were written
    assert booked_change(moved, CutFacts(600, True, 500)) == TokenChange(
        input_tokens=-600, cache_read_tokens=-1100, cache_write_5m_tokens=500
    )
    openai_style = Usage(input_tokens=900, cache_read_tokens=200)  # no writes: sent uncached
    assert booked_change(openai_style, CutFacts(600, True, 500)) == TokenChange(
        input_tokens=-600, cache_read_tokens=-1100
    )
    baseline = booked_change(moved, CutFacts(600, True, 500)).apply(moved, -1)
    assert baseline == Usage(input_tokens=1500, cache_read_tokens=1300, cache_write_5m_tokens=150)


def test_cut_facts_keep_the_tokens_the_previous_request_had() -> None:
    facts = [MessageFacts("user" if i % 2 == 0 else "assistant", 100) for i in range(11)]
    assert cut_facts(facts, 6, 0, 600) == CutFacts(600, True, 300)  # 6..8 kept, 9-10 new
    assert cut_facts(facts, 6, 6, 600).moved is False


async def run(tmp_path: Path, usage: Usage, n: int, *, stream: bool = False) -> object:
    store = LedgerStore(tmp_path / f"ledger-{n}-{stream}.db")
    await store.open()
    try:
        answer = (
            (lambda req: stream_reply(req, usage=usage))
            if stream
            else (lambda req: reply(req, "ok", usage))
        )
        history = history_stage(
            {None: HistorySettings(enabled=True, budget_tokens=1000)}, None, HundredPerMessage()
        )
        handler = compose([ledger_stage(store, accountant()), history], FakeUpstream(answer))
        request = conversation(n, "anthropic", model="claude-sonnet-4-6")
        response = await handler(dataclasses.replace(request, stream=stream))
        if stream:
            await collect(response)
        (row,) = store.rows()
        return row
    finally:
        await store.close()


@pytest.mark.parametrize("stream", [False, True])
async def test_the_ledger_books_the_saving_net_of_the_cache_lost(
    tmp_path: Path, stream: bool
) -> None:
    # 11 turns of 100: the cut moves to 6 on this request (10 turns: no cut yet); it keeps
    # turns 6-10, of which 6-8 were in the previous request: 300 tokens of cache lost
    usage = Usage(input_tokens=520, cache_read_tokens=20, cache_write_5m_tokens=500)
    row = await run(tmp_path, usage, 11, stream=stream)
    saved = (600 * Decimal("0.3") + 300 * Decimal("0.3") - 300 * Decimal("3.75")) / M
    assert row.savings == {"history": saved}  # negative: the cut's write costs more today
    assert saved == Decimal("-0.000855")


async def test_a_steady_cut_saves_the_reads_it_avoids(tmp_path: Path) -> None:
    usage = Usage(input_tokens=520, cache_read_tokens=500, cache_write_5m_tokens=20)
    row = await run(tmp_path, usage, 13, stream=False)  # the cut stays at 6
    assert row.savings == {"history": 600 * Decimal("0.3") / M}
