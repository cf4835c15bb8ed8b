"""Regression tests for six pricing defects found by independent golden checks.  Every
expected dollar amount is hand arithmetic (in the comment next to it) on the rates of
genai-prices' bundled snapshot or of the override in the test (USD per million tokens)."""

from __future__ import annotations

import types
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from _defect_helpers import LATE_2026

from thrifty.config import PriceOverride, load_settings
from thrifty.errors import ConfigError
from thrifty.ledger.money import pico_to_usd, usd_to_pico
from thrifty.pricing import PriceBook, quantize_rate
from thrifty.pricing import book as book_module
from thrifty.types import Call, Cost, Usage


def _is_pico_multiple(usd: Decimal) -> bool:
    return (usd * 10**12) % 1 == 0


# -- 2. an override for the name thrifty sent wins over a dated package entry ------------


def test_exact_override_for_sent_name_wins_over_dated_package_entry() -> None:
    book = PriceBook({"gpt-4.1": PriceOverride(input=Decimal(1), output=Decimal(4))})
    usage = Usage(input_tokens=1000, output_tokens=100)
    call = Call(
        model="gpt-4.1-2025-04-14",
        provider="openai",
        usage=usage,
        sent_model="gpt-4.1",
        at=LATE_2026.timestamp(),
    )
    # override: 1000*1 + 100*4 = 1400 -> $0.0014
    assert book.price_call(call, provider="openai", local=False) == Cost(
        usd=Decimal("0.0014"), source="override"
    )
    # The bug: the dated name alone finds genai-prices' gpt-4.1 entry:
    #   1000*2 + 100*8 = 2800 -> $0.0028
    assert book.cost(usage, "gpt-4.1-2025-04-14", provider="openai").usd == Decimal("0.0028")


def test_override_for_the_reported_name_beats_one_for_the_sent_name() -> None:
    book = PriceBook(
        {
            "gpt-4.1": PriceOverride(input=Decimal(1), output=Decimal(4)),
            "gpt-4.1-2025-04-14": PriceOverride(input=Decimal(3), output=Decimal(0)),
            "my-*": PriceOverride(input=Decimal(5), output=Decimal(0)),
        }
    )
    usage = Usage(input_tokens=1000, output_tokens=100)
    dated = Call(model="gpt-4.1-2025-04-14", provider="openai", usage=usage, sent_model="gpt-4.1")
    # 1000*3 = 3000 -> $0.003
    assert book.price_call(dated, provider="openai", local=False).usd == Decimal("0.003")
    # An exact override for the sent name beats a glob matching the reported name:
    #   gpt-4.1 override: 1400 -> $0.0014
    globbed = Call(model="my-gpt-4.1", provider="p", usage=usage, sent_model="gpt-4.1")
    assert book.price_call(globbed, provider=None, local=False).usd == Decimal("0.0014")
    # A glob for the sent name beats the package entry for the reported name:
    #   my-* override: 1000*5 = 5000 -> $0.005
    sent_glob = Call(model="gpt-4o", provider="p", usage=usage, sent_model="my-model")
    assert book.price_call(sent_glob, provider=None, local=False).usd == Decimal("0.005")


def test_price_call_falls_back_to_the_sent_name_when_the_reported_one_is_unpriced(
    book: PriceBook,
) -> None:
    usage = Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100)
    call = Call(model="azure-deployment-xyz", provider="p", usage=usage, sent_model="gpt-4o", at=0)
    # gpt-4o (1970: the oldest price): 800*2.5 + 200*1.25 + 100*10 = 3250 -> $0.00325
    assert book.price_call(call, provider=None, local=False).usd == Decimal("0.00325")
    # Neither name known: unpriced, never $0.
    lost = Call(model="nope-1", provider="p", usage=usage, sent_model="nope-2")
    assert not book.price_call(lost, provider=None, local=False).priced
    # The reported name wins when the package knows both: gpt-4o-mini
    #   800*0.15 + 200*0.075 + 100*0.6 = 120 + 15 + 60 = 195 -> $0.000195
    both = Call(model="gpt-4o-mini", provider="p", usage=usage, sent_model="gpt-4o")
    assert book.price_call(both, provider=None, local=False).usd == Decimal("0.000195")


def test_price_call_uses_the_calls_tier_batch_tools_and_time(book: PriceBook) -> None:
    usage = Usage(input_tokens=10_000, cache_read_tokens=1000, output_tokens=2000)
    base = Call(model="o3", provider="openai", usage=usage, at=LATE_2026.timestamp())
    # flex: 17_250 -> $0.01725 (see test_flex_tier...)
    flex = replace(base, service_tier="flex")
    assert book.price_call(flex, provider="openai", local=False).usd == Decimal("0.01725")
    # batch: $1 input, $4 output; OpenAI's batch table has no cached-input rate, so cached
    # input stays at the standard $0.5: 9000*1 + 1000*0.5 + 2000*4 = 17_500 -> $0.0175
    batch = replace(base, batch=True)
    assert book.price_call(batch, provider="openai", local=False).usd == Decimal("0.0175")
    # 4 web searches at $10/1k = $0.04 on top of the standard $0.0345 -> $0.0745
    tools = replace(base, server_tools=(("web_search", 4),))
    assert book.price_call(tools, provider="openai", local=False).usd == Decimal("0.0745")
    # Before the 2025-06-10 price cut: $10 input, $0.5 cached (unchanged), $40 output:
    #   9000*10 + 1000*0.5 + 2000*40 = 90_000 + 500 + 80_000 = 170_500 -> $0.1705
    old = replace(base, at=datetime(2025, 6, 1, tzinfo=UTC).timestamp())
    assert book.price_call(old, provider="openai", local=False).usd == Decimal("0.1705")
    # local (and no override): $0 by explicit configuration
    assert book.price_call(base, provider=None, local=True) == Cost(Decimal(0), "local")


# -- 4. long-context tiers in overrides ---------------------------------------------------

SONNET_4_TOML = """
[prices."claude-sonnet-4"]
input = "3"
output = "15"
cache_read = "0.3"
cache_write_5m = "3.75"
cache_write_1h = "6"
tiers = [{above_input_tokens = 200000, input = "6", output = "22.5"}]
"""


def test_override_long_context_tier_from_toml(tmp_path: Path, book: PriceBook) -> None:
    config = tmp_path / "t.toml"
    config.write_text(SONNET_4_TOML, encoding="utf-8")
    tiered = PriceBook(load_settings(config).prices)
    # 250_000 input of which 100_000 cache read, 1000 output, above 200k: input $6,
    # cache read scaled like input (0.3 x 6/3 = 0.6), output $22.5:
    #   150_000*6 + 100_000*0.6 + 1000*22.5 = 900_000 + 60_000 + 22_500 = 982_500 -> $0.9825
    usage = Usage(input_tokens=250_000, cache_read_tokens=100_000, output_tokens=1000)
    assert tiered.cost(usage, "claude-sonnet-4") == Cost(Decimal("0.9825"), "override")
    # The bundled data is flat for claude-sonnet-4 (the defect):
    #   150_000*3 + 100_000*0.3 + 1000*15 = 450_000 + 30_000 + 15_000 = 495_000 -> $0.495
    assert book.cost(usage, "claude-sonnet-4").usd == Decimal("0.495")
    # Exactly 200_000 input stays on the base rates: 200_000*3 + 1000*15 = 615_000 -> $0.615
    at = Usage(input_tokens=200_000, output_tokens=1000)
    assert tiered.cost(at, "claude-sonnet-4").usd == Decimal("0.615")
    # Cache writes above 200k scale too: 5m 3.75 -> 7.5, 1h 6 -> 12:
    #   200_001 input = 1 plain + 100_000 5m + 100_000 1h:
    #   1*6 + 100_000*7.5 + 100_000*12 = 6 + 750_000 + 1_200_000 = 1_950_006 -> $1.950006
    writes = Usage(
        input_tokens=200_001, cache_write_5m_tokens=100_000, cache_write_1h_tokens=100_000
    )
    assert tiered.cost(writes, "claude-sonnet-4").usd == Decimal("1.950006")
    # Batch takes the default 50% off every rate of the tier too: $0.9825 / 2 = $0.49125
    assert tiered.cost(usage, "claude-sonnet-4", batch=True).usd == Decimal("0.49125")
    # And a call answered with the dated name is priced by the override for the sent name.
    call = Call(
        model="claude-sonnet-4-20250514",
        provider="anthropic",
        usage=usage,
        sent_model="claude-sonnet-4",
    )
    assert tiered.price_call(call, provider="anthropic", local=False).usd == Decimal("0.9825")


def test_override_with_several_tiers_and_explicit_tier_cache_rates() -> None:
    book = PriceBook(
        {
            "m": PriceOverride(
                input=Decimal(1),
                output=Decimal(2),
                tiers=(
                    PriceOverride.Tier(
                        above_input_tokens=1000, input=Decimal(2), output=Decimal(3)
                    ),
                    PriceOverride.Tier(
                        above_input_tokens=5000,
                        input=Decimal(4),
                        output=Decimal(5),
                        cache_read=Decimal("0.5"),
                    ),
                ),
            )
        }
    )
    # <= 1000: 1000*1 + 10*2 = 1020 -> $0.00102
    assert book.cost(Usage(input_tokens=1000, output_tokens=10), "m").usd == Decimal("0.00102")
    # > 1000: 2000*2 + 10*3 = 4030 -> $0.00403; a cache read at the scaled 1 x 2/1 = $2:
    #   1999*2 + 1*2 + 10*3 = 4030 -> $0.00403
    assert book.cost(Usage(input_tokens=2000, output_tokens=10), "m").usd == Decimal("0.00403")
    one_read = Usage(input_tokens=2000, cache_read_tokens=1, output_tokens=10)
    assert book.cost(one_read, "m").usd == Decimal("0.00403")
    # > 5000: explicit cache read $0.5: 5000*4 + 1000*0.5 + 10*5 = 20_000 + 500 + 50
    #   = 20_550 -> $0.02055
    top = Usage(input_tokens=6000, cache_read_tokens=1000, output_tokens=10)
    assert book.cost(top, "m").usd == Decimal("0.02055")
    rates = book.rates("m")
    assert rates is not None
    assert [t for t, _ in rates.long_context_tiers()] == [1000, 5000]


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        (
            '[{above_input_tokens = 200000, input = "6", output = "22.5"},'
            ' {above_input_tokens = 100000, input = "5", output = "20"}]',
            "ascending order of above_input_tokens, got 100000 after 200000",
        ),
        (
            '[{above_input_tokens = 200000, input = "6", output = "22.5"},'
            ' {above_input_tokens = 200000, input = "7", output = "30"}]',
            "got 200000 after 200000",
        ),
        ('[{above_input_tokens = -1, input = "6", output = "22.5"}]', "above_input_tokens"),
        ('[{above_input_tokens = 200000, input = "6"}]', "output"),
        ('[{above_input_tokens = 200000, input = "-6", output = "1"}]', "input"),
        ('[{above = 200000, input = "6", output = "22.5"}]', "above"),
    ],
)
def test_override_tiers_are_validated(tmp_path: Path, tiers: str, message: str) -> None:
    config = tmp_path / "t.toml"
    config.write_text(
        f'[prices."m"]\ninput = "3"\noutput = "15"\ntiers = {tiers}\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert message in str(info.value)
    assert "tiers" in str(info.value)


# -- 5. dated prices resolved at the call's time ------------------------------------------


def test_dated_price_is_resolved_at_the_calls_time() -> None:
    book = PriceBook()
    usage = Usage(input_tokens=1000, output_tokens=100)
    before = datetime(2025, 6, 9, 23, 59, tzinfo=UTC)
    on = datetime(2025, 6, 10, 0, 0, tzinfo=UTC)
    # o3 before 2025-06-10: 1000*10 + 100*40 = 14_000 -> $0.014
    # o3 from 2025-06-10:   1000*2 + 100*8 = 2800 -> $0.0028
    # Same book, in both orders, as datetime and as unix seconds: nothing sticks.
    assert book.cost(usage, "o3", at=on).usd == Decimal("0.0028")
    assert book.cost(usage, "o3", at=before).usd == Decimal("0.014")
    assert book.cost(usage, "o3", at=on.timestamp()).usd == Decimal("0.0028")
    assert book.cost(usage, "o3", at=before.timestamp()).usd == Decimal("0.014")
    # A naive datetime is UTC.
    assert book.cost(usage, "o3", at=datetime(2025, 6, 9, 23, 59)).usd == Decimal("0.014")
    assert datetime(2025, 6, 10).date() in book.price_changes("o3")


def test_a_long_running_book_picks_up_a_price_change_on_its_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # meta-llama/Llama-3.3-70B-Instruct on huggingface_together: $0.88 in and out until
    # 2026-10-18, then 1.0399999999999998 (read as $1.04) from 2026-10-19.
    clock = {"now": datetime(2026, 10, 18, 23, 0, tzinfo=UTC).timestamp()}
    monkeypatch.setattr(book_module, "time", types.SimpleNamespace(time=lambda: clock["now"]))
    book = PriceBook()
    usage = Usage(input_tokens=1000, output_tokens=1000)
    model, provider = "meta-llama/Llama-3.3-70B-Instruct", "huggingface_together"
    # 1000*0.88 + 1000*0.88 = 1760 -> $0.00176
    assert book.cost(usage, model, provider=provider).usd == Decimal("0.00176")
    clock["now"] += 2 * 3600  # 2026-10-19 01:00 UTC
    # 1000*1.04 + 1000*1.04 = 2080 -> $0.00208
    assert book.cost(usage, model, provider=provider).usd == Decimal("0.00208")


def test_time_of_day_prices(book: PriceBook) -> None:
    # deepseek-chat: $0.27 in / $1.1 out from 00:30 to 16:30 UTC, $0.135 / $0.55 otherwise.
    usage = Usage(input_tokens=1000, output_tokens=1000)
    # peak: 1000*0.27 + 1000*1.1 = 1370 -> $0.00137
    peak = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    assert book.cost(usage, "deepseek-chat", provider="deepseek", at=peak).usd == Decimal("0.00137")
    # off-peak: 1000*0.135 + 1000*0.55 = 685 -> $0.000685
    night = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)
    cost = book.cost(usage, "deepseek-chat", provider="deepseek", at=night)
    assert cost.usd == Decimal("0.000685")


def test_time_resolution_stays_cheap(book: PriceBook) -> None:
    import time

    usage = Usage(input_tokens=1000, output_tokens=100)
    book.cost(usage, "o3")
    n = 5000
    start = time.perf_counter()
    for i in range(n):
        book.cost(usage, "o3", at=1_750_000_000.0 + i)
    per_call = (time.perf_counter() - start) / n
    # Typically a few microseconds; loose so a loaded CI machine does not flake.
    assert per_call < 100e-6


# -- 6. rates rounded to six decimals: every cost is whole pico-dollars ------------------


def test_float_noise_rates_are_rounded_once_at_load(book: PriceBook) -> None:
    model, provider = "meta-llama/Llama-3.3-70B-Instruct", "huggingface_together"
    rates = book.rates(model, provider=provider, at=LATE_2026)
    assert rates is not None
    assert (rates.input, rates.output) == (Decimal("1.04"), Decimal("1.04"))
    # 1 in + 1 out: 1.04 + 1.04 = 2.08 -> $0.00000208 (not 0.0000020799999999999996)
    one = Usage(input_tokens=1, output_tokens=1)
    usd = book.cost(one, model, provider=provider, at=LATE_2026).usd
    assert usd == Decimal("0.00000208")
    assert usd is not None
    # What the header shows is what the ledger stores (integer pico-dollars).
    assert pico_to_usd(usd_to_pico(usd)) == usd


def test_quantize_rate() -> None:
    assert quantize_rate(Decimal("1.0399999999999998")) == Decimal("1.04")
    assert quantize_rate(Decimal("0.0833333333333333")) == Decimal("0.083333")
    assert quantize_rate(Decimal("0.1234565")) == Decimal("0.123456")  # half to even
    assert str(quantize_rate(Decimal("0.30"))) == "0.30"  # already precise: kept as written
    assert str(quantize_rate(Decimal("9.99999999999"))) == "10"
    with pytest.raises(ValueError, match="finite"):
        quantize_rate(Decimal("NaN"))


def test_override_rates_are_rounded_the_same_way() -> None:
    book = PriceBook(
        {"m": PriceOverride(input=Decimal("0.1234567"), output=Decimal("1.0399999999999998"))}
    )
    rates = book.rates("m")
    assert rates is not None
    assert (rates.input, rates.output, rates.cache_read) == (
        Decimal("0.123457"),
        Decimal("1.04"),
        Decimal("0.123457"),
    )
    # 1 in + 1 out: 0.123457 + 1.04 = 1.163457 -> $0.000001163457
    assert book.cost(Usage(input_tokens=1, output_tokens=1), "m").usd == Decimal("0.000001163457")


def test_every_cost_is_a_whole_number_of_pico_dollars(book: PriceBook) -> None:
    from genai_prices.data import providers

    # Odd token counts, a cache read and both cache writes, a long context.
    usages = [
        Usage(input_tokens=1, output_tokens=1),
        Usage(
            input_tokens=12_345,
            cache_read_tokens=1_111,
            cache_write_5m_tokens=333,
            cache_write_1h_tokens=77,
            output_tokens=9_876,
        ),
        Usage(input_tokens=300_001, cache_read_tokens=7, output_tokens=3),
    ]
    tools = (("web_search", 7), ("file_search", 3))
    checked = 0
    for provider in providers:
        for info in provider.models[::5]:  # a fifth of every provider's models
            for usage in usages:
                for batch in (False, True):
                    for tier in (None, "priority", "flex"):
                        cost = book.cost(
                            usage,
                            info.id,
                            provider=provider.id,
                            batch=batch,
                            service_tier=tier,
                            server_tools=tools,
                            at=LATE_2026,
                        )
                        if cost.usd is not None:
                            checked += 1
                            assert _is_pico_multiple(cost.usd), (info.id, usage, batch, tier)
    assert checked > 1000
