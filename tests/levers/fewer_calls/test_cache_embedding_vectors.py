"""What the exact cache accepts as a stored vector: numbers only (a JSON true/false is not
one), or a non-empty base64 string."""

from __future__ import annotations

import orjson
import pytest

from thrifty.levers.fewer_calls.cache_embeddings import NotEmbeddings, StoredVector


def entry(embedding: object) -> bytes:
    return orjson.dumps({"v": 1, "embedding": embedding, "tokens": 3, "model": "m"})


@pytest.mark.parametrize("embedding", [[0.25, -1.0, 3], "AAAAPw=="])
def test_numbers_and_base64_are_vectors(embedding: object) -> None:
    assert StoredVector.decode(entry(embedding)).embedding == embedding


@pytest.mark.parametrize(
    "embedding", [[], [0.5, True], [False], [0.5, "x"], [0.5, None], [[0.5]], "", {"a": 1}]
)
def test_anything_else_is_not(embedding: object) -> None:
    with pytest.raises(NotEmbeddings):
        StoredVector.decode(entry(embedding))
