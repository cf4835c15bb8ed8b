"""``Usage.counts`` / ``Usage.from_counts``: the compact form the caches and idempotency
records store."""

from __future__ import annotations

import pytest

from thrifty.types import Usage


def test_counts_round_trip_in_field_order() -> None:
    usage = Usage(100, 40, cache_read_tokens=30, cache_write_5m_tokens=20, reasoning_tokens=5)
    assert usage.counts() == [100, 40, 30, 20, 0, 5]
    assert Usage.from_counts(usage.counts()) == usage


@pytest.mark.parametrize(
    "counts",
    [
        None,
        [1, 2, 3],
        [1, 2, 0, 0, 0, "0"],
        [1, 2, 0, 0, 0, True],
        [1, 2, 0, 0, 0, 1.0],
        [1, 0, 5, 0, 0, 0],
    ],
)
def test_anything_else_is_a_value_error(counts: object) -> None:
    with pytest.raises(ValueError):
        Usage.from_counts(counts)
