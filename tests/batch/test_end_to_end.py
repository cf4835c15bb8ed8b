"""Submit, follow, collect and book against the simulator's batch endpoints."""

from __future__ import annotations

from decimal import Decimal

import orjson

from tests.batch.conftest import Harness, anthropic_line, openai_line, submissions


async def test_openai_and_anthropic_items_are_answered_and_booked_at_batch_rates(
    harness: Harness,
) -> None:
    lines = [
        openai_line("o1", "first question"),
        anthropic_line("a1", "second question"),
        openai_line("o2", "third question"),
    ]
    submitted, items, rows = await harness.run(lines)
    assert submitted.parsed.bad == []
    assert [i.custom_id for i in items] == ["o1", "a1", "o2"]
    assert [i.state for i in items] == ["succeeded"] * 3
    assert all(i.source == "batch" for i in items)
    assert submissions(harness.sim) == 2  # one job per provider and model
    assert len(rows) == 3
    for row in rows:
        assert row.endpoint == "batch" and row.status == 200
        assert row.calls[0].call.batch
        assert row.cost_usd is not None and row.baseline_usd is not None
        assert row.cost_usd * 2 == row.baseline_usd  # both providers: half price
        assert row.savings == {"batch": row.baseline_usd - row.cost_usd}
    answer = orjson.loads(items[1].result)
    assert answer["usage"]["service_tier"] == "batch"
    assert sum((r.cost_usd for r in rows), Decimal(0)) > 0
