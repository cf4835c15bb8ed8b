"""Exact money in storage: integer pico-dollars (1e-12 USD).

A ``Decimal`` with at most 12 decimal places converts exactly.  A value with more
precision is rounded to the nearest pico-dollar, ties to even (banker's rounding), so
the error is at most half a pico-dollar per stored amount.  The conversion uses integer
arithmetic only, so it does not depend on the caller's ``decimal`` context.

SQLite integers are signed 64-bit: one stored amount must stay within about
+/- 9.2 million USD (``PICO_MAX``); a larger amount raises ``ValueError``.
"""

from __future__ import annotations

from decimal import Decimal

PICO_PER_USD = 10**12
PICO_MAX = 2**63 - 1


def usd_to_pico(value: Decimal) -> int:
    """``value`` in USD as an integer count of pico-dollars (round half-even past 1e-12)."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(value).__name__}: {value!r}")
    if not value.is_finite():
        raise ValueError(f"money must be finite, got {value!r}")
    magnitude = value.adjusted()  # 10**magnitude <= |value| < 10**(magnitude + 1)
    if magnitude >= 7:
        raise ValueError(f"money out of range for the ledger (|usd| < 9.2e6): {value!r}")
    if magnitude < -13:
        return 0  # below half a pico-dollar (and no huge integers for 1e-999999)
    numerator, denominator = value.as_integer_ratio()  # exact
    pico, remainder = divmod(numerator * PICO_PER_USD, denominator)  # floor division
    if remainder and (
        2 * remainder > denominator or (2 * remainder == denominator and pico % 2 == 1)
    ):
        pico += 1  # round half to even
    if not -PICO_MAX <= pico <= PICO_MAX:
        raise ValueError(f"money out of range for the ledger (|usd| < 9.2e6): {value!r}")
    return pico


def pico_to_usd(pico: int) -> Decimal:
    """Inverse of :func:`usd_to_pico`; exact (a ``Decimal`` with exponent -12)."""
    return Decimal(f"{pico}e-12")


def optional_usd_to_pico(value: Decimal | None) -> int | None:
    return None if value is None else usd_to_pico(value)


def optional_pico_to_usd(pico: int | None) -> Decimal | None:
    return None if pico is None else pico_to_usd(pico)


def usd_text(value: Decimal) -> str:
    """Exact fixed-point text for ``value`` (no exponent, no trailing zeros)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
