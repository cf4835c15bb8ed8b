"""Ledger rows of batch results, priced by hand.

Rates (USD per million tokens, genai-prices' bundled data, as `thrifty prices` shows them):
claude-haiku-4-5 standard 1 in / 5 out / cache write 5m 1.25 / cache read 0.10, batch
half of each (0.5 / 2.5 / 0.625 / 0.05); gpt-4o 2.50 / 10, batch 1.25 / 5.
"""

from __future__ import annotations

from decimal import Decimal

import orjson

from tests.batch.conftest import Harness, anthropic_line, openai_line
from thrifty.types import Usage

M = Decimal(1_000_000)
SYSTEM = [{"type": "text", "text": "rule " * 1500, "cache_control": {"type": "ephemeral"}}]


def usd(*terms: tuple[int, str]) -> Decimal:
    return sum((tokens * Decimal(rate) for tokens, rate in terms), Decimal(0)) / M


async def test_batch_rates_and_cache_reads_inside_a_batch(harness: Harness) -> None:
    lines = [
        anthropic_line("w", "first", system=SYSTEM),  # writes the prompt cache
        anthropic_line("r", "second", system=SYSTEM),  # reads it, in the same batch
        openai_line("o", "plain", model="gpt-4o"),
    ]
    _, items, rows = await harness.run(lines)
    by_id = {r.request_id: r for r in rows}
    row_of = {i.custom_id: by_id[f"batch-{i.submission_id}-{i.id}"] for i in items}

    write, read, plain = (row_of[k] for k in ("w", "r", "o"))
    assert write.usage.cache_write_5m_tokens > 1000 and write.usage.cache_read_tokens == 0
    assert read.usage.cache_read_tokens == write.usage.cache_write_5m_tokens
    for row in (write, read):
        u: Usage = row.usage
        assert row.cost_usd == usd(
            (u.uncached_input_tokens, "0.5"),
            (u.cache_write_5m_tokens, "0.625"),
            (u.cache_read_tokens, "0.05"),
            (u.output_tokens, "2.5"),
        )
        assert row.baseline_usd == usd(
            (u.uncached_input_tokens, "1"),
            (u.cache_write_5m_tokens, "1.25"),
            (u.cache_read_tokens, "0.1"),
            (u.output_tokens, "5"),
        )
        assert row.savings == {"batch": row.baseline_usd - row.cost_usd}
        assert row.saved_usd == row.baseline_usd - row.cost_usd
    # The cache read is the cheapest line: batch and cache discounts stack.
    assert read.cost_usd is not None and write.cost_usd is not None
    assert read.cost_usd < write.cost_usd
    u = plain.usage
    assert plain.cost_usd == usd((u.input_tokens, "1.25"), (u.output_tokens, "5"))
    assert plain.baseline_usd == usd((u.input_tokens, "2.5"), (u.output_tokens, "10"))
    # The booked usage is the one the result line reported.
    body = orjson.loads(next(i for i in items if i.custom_id == "o").result)
    assert (u.input_tokens, u.output_tokens) == (
        body["usage"]["prompt_tokens"],
        body["usage"]["completion_tokens"],
    )
