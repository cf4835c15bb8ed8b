"""Shared fixtures for the pricing tests."""

from __future__ import annotations

import pytest

from thrifty.pricing import PriceBook


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()
