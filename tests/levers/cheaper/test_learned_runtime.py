"""The learned router in the library, end to end: router file, settings, simulator, ledger."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.levers.cheaper.learned_kit import saved
from thrifty.config import Settings
from thrifty.runtime import Thrifty

M = Decimal(1_000_000)


async def test_a_router_file_routes_library_calls_and_the_ledger_books_it(
    tmp_path: Path,
) -> None:
    router = saved(tmp_path / "router.json")
    settings = Settings(
        ledger={"path": str(tmp_path / "ledger.db")},
        simulator={"port": 0},
        simulate=True,
        tasks={"qa": {"learned_routing": {"enabled": True, "model_file": str(router)}}},
    )
    async with Thrifty(settings, environ={}) as thrifty:
        easy = await thrifty.chat(
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "easy sum of numbers"}]},
            task="qa",
        )
        hard = await thrifty.chat(
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "hard proof of theorem"}]},
            task="qa",
        )
        rows = thrifty.ledger.rows()
    assert easy.model.startswith("gpt-4o-mini") and easy.headers["learned-route"] == "gpt-4o-mini"
    assert not hard.model.startswith("gpt-4o-mini")
    easy_row = next(r for r in rows if r.request_id == easy.served.request_id)  # type: ignore[union-attr]
    usage = easy_row.usage
    # gpt-4o $2.50 / $10 against gpt-4o-mini $0.15 / $0.60 per million tokens
    baseline = (usage.input_tokens * Decimal("2.50") + usage.output_tokens * 10) / M
    cost = (usage.input_tokens * Decimal("0.15") + usage.output_tokens * Decimal("0.60")) / M
    assert easy_row.cost_usd == cost and easy_row.baseline_usd == baseline
    assert easy_row.savings == {"learned_routing": baseline - cost}
    assert easy_row.detail is not None and "learned router (qa): gpt-4o -> gpt-4o-mini" in (
        easy_row.detail
    )
