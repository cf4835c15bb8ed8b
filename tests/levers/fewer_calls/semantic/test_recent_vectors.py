"""Recent query vectors: the same question asked again skips the embedding model."""

from __future__ import annotations

import numpy as np

from thrifty.levers.fewer_calls.semantic.embedder import RecentVectors
from thrifty.testing import FakeUpstream, reply, request_for

from .conftest import MakeCache, WordsEmbedder


def vector(value: float) -> np.ndarray:  # type: ignore[type-arg]
    return np.full((4,), value, dtype=np.float32)


def test_the_least_recently_used_text_goes_first() -> None:
    recent = RecentVectors(2)
    a, b, c = (recent.key(text) for text in ("a", "b", "c"))
    recent.put(a, vector(1))
    recent.put(b, vector(2))
    assert recent.get(a) is not None  # "a" is now the most recent
    recent.put(c, vector(3))
    assert len(recent) == 2 and recent.get(b) is None
    found_a, found_c = recent.get(a), recent.get(c)
    assert found_a is not None and found_c is not None
    assert float(found_a[0]) == 1 and float(found_c[0]) == 3


def test_a_vector_handed_out_is_a_copy() -> None:
    recent = RecentVectors(4)
    key = recent.key("capital of france")
    given = vector(1)
    recent.put(key, given)
    given[:] = 9  # the caller's array changes after it was kept
    found = recent.get(key)
    assert found is not None and float(found[0]) == 1
    found[:] = 7  # and the one handed out
    again = recent.get(key)
    assert again is not None and float(again[0]) == 1


def test_size_zero_keeps_nothing_and_texts_are_told_apart() -> None:
    recent = RecentVectors(0)
    recent.put(recent.key("a"), vector(1))
    assert len(recent) == 0 and recent.get(recent.key("a")) is None
    assert RecentVectors.key("a") != RecentVectors.key("a ")
    assert RecentVectors.key("\udcff lone surrogate") != RecentVectors.key("lone surrogate")


async def test_the_same_query_again_is_not_embedded_again(
    make_cache: MakeCache, words: WordsEmbedder
) -> None:
    upstream = FakeUpstream(lambda request: reply(request, "Paris."))
    cache = make_cache()
    handler = cache(upstream)
    first = await handler(request_for("gpt-4o", "what is the capital of france"))
    calls = words.calls
    second = await handler(request_for("gpt-4o", "what is the capital of france"))
    assert first.headers["semantic-cache"] == "miss"
    assert second.headers["semantic-cache"] == "hit" and words.calls == calls
    await handler(request_for("gpt-4o", "what is the tallest mountain"))
    assert words.calls == calls + 1 and len(cache.recent) == 2
