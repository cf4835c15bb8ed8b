from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from thrifty.ledger import pico_to_usd, usd_to_pico


@pytest.mark.parametrize(
    ("usd", "pico"),
    [
        ("0", 0),
        ("0.000000123456", 123_456),
        ("0.000000000001", 1),
        ("1", 10**12),
        ("-2.5", -2_500_000_000_000),
        ("1234567.123456789012", 1_234_567_123_456_789_012),
        ("1E+3", 10**15),
    ],
)
def test_exact_conversion(usd: str, pico: int) -> None:
    assert usd_to_pico(Decimal(usd)) == pico
    assert pico_to_usd(pico) == Decimal(usd)


@pytest.mark.parametrize(
    ("usd", "pico"),
    [
        ("0.0000000000005", 0),  # tie: round to even (0)
        ("0.0000000000015", 2),  # tie: round to even (2)
        ("0.0000000000025", 2),
        ("0.00000000000251", 3),  # above the tie
        ("-0.0000000000015", -2),
        ("0.0000000000004999999999999999999999999999999", 0),
        ("0.0000000000005000000000000000000000000000001", 1),
        ("1e-999999", 0),
        ("-1e-14", 0),
    ],
)
def test_rounds_half_even_past_a_picodollar(usd: str, pico: int) -> None:
    assert usd_to_pico(Decimal(usd)) == pico


def test_ignores_the_callers_decimal_context() -> None:
    value = Decimal("1234567.123456789012")
    with localcontext() as ctx:
        ctx.prec = 3
        assert usd_to_pico(value) == 1_234_567_123_456_789_012


@pytest.mark.parametrize(
    "bad",
    [
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("1e7"),
        Decimal("-9223372.04"),
        Decimal("1e999999"),
    ],
)
def test_rejects_what_it_cannot_store(bad: Decimal) -> None:
    with pytest.raises(ValueError):
        usd_to_pico(bad)


def test_rejects_floats() -> None:
    with pytest.raises(TypeError):
        usd_to_pico(0.1)  # type: ignore[arg-type]
