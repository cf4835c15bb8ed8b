"""An encoding that notes every text it encodes, for tests of what is counted again."""

from __future__ import annotations

from collections import Counter

from thrifty.tokens import TokenCounter

REAL = TokenCounter()


class Spy:
    """Counts like ``o200k_base`` (tiktoken's) and notes each text it was given."""

    def __init__(self) -> None:
        self.encoded: Counter[str] = Counter()

    def encode_ordinary(self, text: str) -> list[int]:
        self.encoded[text] += 1
        return REAL.encoding("o200k_base").encode_ordinary(text)
