"""Deleting clean-ups (invisible characters, odd spaces, HTML comments) mask only the
tokens they could touch: the result is the one masking every token gives."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.compress import text as transforms
from thrifty.levers.fewer_tokens.compress.spans import token_spans

BITS = st.sampled_from(
    [
        "word",
        "Word",
        " ",
        "  ",
        "\n",
        "\n\n\n",
        "\t",
        "\u200b",
        "\ufeff",
        "\u00a0",
        "\u3000",
        "<!--",
        "-->",
        "<!-- note -->",
        "42",
        "INV-2024-001",
        "user_name",
        "camelCase",
        "https://example.com/a?b=1",
        "a@b.io",
        '"',
        "\u201c",
        "\u201d",
        "`",
        "----",
        ".",
        ",",
    ]
)


def _every_token(text: str, invisible: bool) -> list[tuple[int, int]]:
    return token_spans(text)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=400)
@given(st.lists(BITS, max_size=50).map("".join))
def test_masking_the_touchable_tokens_is_masking_them_all(text: str) -> None:
    fast = transforms.normalise(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transforms, "_deletable_tokens", _every_token)
        assert fast == transforms.normalise(text)


def test_a_token_with_an_invisible_character_is_kept_and_a_comment_with_one_too() -> None:
    text = "Go\u200b to https://x.io/a\u200bb now.\u00a0Then <!-- see 42 --> done <!-- gone -->."
    expected = "Go to https://x.io/a\u200bb now. Then <!-- see 42 --> done ."
    assert transforms.normalise(text) == expected
