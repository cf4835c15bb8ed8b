"""Regression tests for six pricing defects found by independent golden checks.  Every
expected dollar amount is hand arithmetic (in the comment next to it) on the rates of
genai-prices' bundled snapshot or of the override in the test (USD per million tokens)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from _defect_helpers import LATE_2026

from thrifty.config import PriceOverride, load_settings
from thrifty.pricing import PROVIDER_TOOL_FEES, PriceBook
from thrifty.types import Cost, Usage

# -- 1. service tiers -------------------------------------------------------------------


def test_priority_tier_prices_gpt_4o_at_priority_rates(book: PriceBook) -> None:
    # gpt-4o priority: input $4.25, cached input $2.125, output $17.
    # 1000 input of which 200 cached, 100 output:
    #   800*4.25 + 200*2.125 + 100*17 = 3400 + 425 + 1700 = 5525 -> $0.005525
    # standard: 800*2.5 + 200*1.25 + 100*10 = 2000 + 250 + 1000 = 3250 -> $0.00325
    # (the standard price is 41% under the priority one: the defect)
    usage = Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100)
    priority = book.cost(usage, "gpt-4o", service_tier="priority", at=LATE_2026)
    assert priority == Cost(usd=Decimal("0.005525"), source="genai-prices")
    assert book.cost(usage, "gpt-4o", at=LATE_2026).usd == Decimal("0.00325")
    rates = book.rates("gpt-4o", service_tier="priority", at=LATE_2026)
    assert rates is not None
    assert rates.service_tier == "priority"


def test_flex_tier_prices_o3_at_flex_rates(book: PriceBook) -> None:
    # o3 flex: input $1, cached input $0.25, output $4 (standard: $2, $0.5, $8).
    # 10_000 input of which 1000 cached, 2000 output:
    #   flex:     9000*1 + 1000*0.25 + 2000*4 = 9000 + 250 + 8000 = 17_250 -> $0.01725
    #   standard: 9000*2 + 1000*0.5 + 2000*8 = 18_000 + 500 + 16_000 = 34_500 -> $0.0345
    usage = Usage(input_tokens=10_000, cache_read_tokens=1000, output_tokens=2000)
    assert book.cost(usage, "o3", service_tier="flex", at=LATE_2026).usd == Decimal("0.01725")
    assert book.cost(usage, "o3", at=LATE_2026).usd == Decimal("0.0345")


def test_default_unknown_and_missing_tiers_use_standard_rates(book: PriceBook) -> None:
    # gpt-4o standard: 800*2.5 + 200*1.25 + 100*10 = 3250 -> $0.00325
    usage = Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100)
    for tier in (None, "default", "standard", "scale", "auto", "no-such-tier"):
        cost = book.cost(usage, "gpt-4o", service_tier=tier, at=LATE_2026)
        assert cost.usd == Decimal("0.00325"), tier
    # Tier names are matched case-insensitively: 5525 -> $0.005525 as above.
    assert book.cost(usage, "gpt-4o", service_tier="PRIORITY", at=LATE_2026).usd == Decimal(
        "0.005525"
    )
    # Before the snapshot's priority prices start (2026-10-12) there is no tier data:
    # standard rates.
    early = datetime(2026, 10, 1, tzinfo=UTC)
    assert book.cost(usage, "gpt-4o", service_tier="priority", at=early).usd == Decimal("0.00325")
    # A model with no tier prices at all (Anthropic's): standard rates.
    # claude-sonnet-4-5: 1000*3 + 100*15 = 4500 -> $0.0045
    plain = Usage(input_tokens=1000, output_tokens=100)
    assert book.cost(
        plain, "claude-sonnet-4-5", service_tier="priority", at=LATE_2026
    ).usd == Decimal("0.0045")


def test_override_has_no_tier_data_so_tiers_use_its_rates() -> None:
    book = PriceBook({"gpt-4o": PriceOverride(input=Decimal(2), output=Decimal(8))})
    # 1000*2 + 100*8 = 2800 -> $0.0028 whatever the tier
    usage = Usage(input_tokens=1000, output_tokens=100)
    assert book.cost(usage, "gpt-4o", service_tier="priority").usd == Decimal("0.0028")


def test_batch_call_uses_batch_rates_whatever_its_tier(book: PriceBook) -> None:
    # gpt-4o batch: input $1.25, output $5: 1000*1.25 + 100*5 = 1750 -> $0.00175
    usage = Usage(input_tokens=1000, output_tokens=100)
    cost = book.cost(usage, "gpt-4o", batch=True, service_tier="priority", at=LATE_2026)
    assert cost.usd == Decimal("0.00175")


def test_service_tiers_listed(book: PriceBook) -> None:
    tiers = book.service_tiers("o3", at=LATE_2026)
    assert set(tiers) == {"fast", "flex", "priority"}  # "default" states no price of its own
    assert tiers["flex"].input == Decimal(1)
    assert book.service_tiers("o3", at=datetime(2026, 1, 1, tzinfo=UTC)) == {}
    assert book.service_tiers("claude-sonnet-4-5") == {}


# -- 3. server-tool fees ------------------------------------------------------------------


def test_anthropic_web_search_fee(book: PriceBook) -> None:
    # claude-sonnet-4-5: 1000*3 + 100*15 = 4500 -> $0.0045; 3 searches x $10/1000 = $0.03
    #   total $0.0345
    usage = Usage(input_tokens=1000, output_tokens=100)
    cost = book.cost(usage, "claude-sonnet-4-5", server_tools=(("web_search", 3),))
    assert cost.usd == Decimal("0.0345")
    # A mapping works too.
    mapped = book.cost(usage, "claude-sonnet-4-5", server_tools={"web_search": 3})
    assert mapped.usd == Decimal("0.0345")
    # No searches, no fee.
    assert book.cost(usage, "claude-sonnet-4-5", server_tools={"web_search": 0}).usd == Decimal(
        "0.0045"
    )


def test_openai_web_and_file_search_fees(book: PriceBook) -> None:
    # gpt-4o: 3250 -> $0.00325; 2 web searches x $10/1000 = $0.02;
    # 4 file searches x $2.5/1000 = $0.01 -> $0.03325
    usage = Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100)
    tools = (("web_search", 2), ("file_search", 4))
    assert book.cost(usage, "gpt-4o", server_tools=tools).usd == Decimal("0.03325")


def test_tool_fees_are_not_batch_discounted(book: PriceBook) -> None:
    # gpt-4o batch tokens: 1000*1.25 + 100*5 = 1750 -> $0.00175; 1 search $0.01 -> $0.01175
    usage = Usage(input_tokens=1000, output_tokens=100)
    cost = book.cost(usage, "gpt-4o", batch=True, server_tools=(("web_search", 1),))
    assert cost.usd == Decimal("0.01175")


def test_override_tool_fee_and_provider_fallback() -> None:
    book = PriceBook(
        {
            "my-search": PriceOverride(
                input=Decimal(1), output=Decimal(2), web_search_per_1k=Decimal("5")
            ),
            "my-plain": PriceOverride(input=Decimal(1), output=Decimal(2)),
        }
    )
    usage = Usage(input_tokens=1000, output_tokens=100)
    # tokens: 1000*1 + 100*2 = 1200 -> $0.0012
    # override fee: 3 x $5/1000 = $0.015 -> $0.0162 (the provider's $10 does not apply)
    tools = (("web_search", 3),)
    assert book.cost(usage, "my-search", provider="anthropic", server_tools=tools).usd == Decimal(
        "0.0162"
    )
    # No fee in the override: the provider's published $10/1000 -> $0.0012 + $0.03 = $0.0312
    assert PROVIDER_TOOL_FEES["anthropic"]["web_search"] == Decimal(10)
    assert book.cost(usage, "my-plain", provider="anthropic", server_tools=tools).usd == Decimal(
        "0.0312"
    )


def test_unknown_tool_kind_is_not_charged_and_logged(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    # claude-sonnet-4-5 tokens only: $0.0045
    usage = Usage(input_tokens=1000, output_tokens=100)
    with caplog.at_level(logging.WARNING, logger="thrifty.pricing"):
        cost = book.cost(usage, "claude-sonnet-4-5", server_tools=(("code_execution", 2),))
    assert cost.usd == Decimal("0.0045")
    assert "code_execution" in caplog.text
    # A local model has no tool fees and nothing to warn about.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="thrifty.pricing"):
        local = book.cost(usage, "llama3", local=True, server_tools=(("web_search", 2),))
    assert local.usd == Decimal(0)
    assert caplog.text == ""


def test_tool_fee_from_toml(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text(
        '[prices."my-model"]\ninput = "1"\noutput = "2"\nweb_search_per_1k = "25"\n',
        encoding="utf-8",
    )
    book = PriceBook(load_settings(config).prices)
    # 1200 -> $0.0012 + 2 x $25/1000 = $0.05 -> $0.0512
    usage = Usage(input_tokens=1000, output_tokens=100)
    assert book.cost(usage, "my-model", server_tools=(("web_search", 2),)).usd == Decimal("0.0512")
