"""``Usage`` refuses impossible counts: any negative count, cache counts beyond the input,
reasoning beyond the output; the boundaries themselves are allowed."""

from __future__ import annotations

import pytest

from thrifty.types import Usage

FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
)


@pytest.mark.parametrize("field", FIELDS)
def test_a_negative_count_in_any_field_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        Usage(**{field: -1})


def test_cache_counts_beyond_the_input_are_refused() -> None:
    with pytest.raises(ValueError, match="cache tokens exceed"):
        Usage(input_tokens=10, cache_read_tokens=6, cache_write_1h_tokens=5)


def test_reasoning_beyond_the_output_is_refused() -> None:
    with pytest.raises(ValueError, match="reasoning tokens exceed"):
        Usage(output_tokens=3, reasoning_tokens=4)


def test_the_boundaries_are_allowed() -> None:
    usage = Usage(10, 4, cache_read_tokens=5, cache_write_5m_tokens=3, cache_write_1h_tokens=2)
    assert usage.cache_write_tokens == 5
    assert Usage(output_tokens=4, reasoning_tokens=4).reasoning_tokens == 4
    assert Usage() == Usage(0, 0, 0, 0, 0, 0)
