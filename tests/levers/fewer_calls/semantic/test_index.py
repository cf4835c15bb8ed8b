"""The partition index: half-precision vectors, its search settings, files of either
precision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thrifty.levers.fewer_calls.semantic.index import (
    EXPANSION_ADD,
    EXPANSION_SEARCH,
    PartitionIndex,
    usearch_index,
)

DIMENSIONS = 384


def unit_vectors(count: int, seed: int = 11) -> np.ndarray:  # type: ignore[type-arg]
    vectors = np.random.default_rng(seed).standard_normal((count, DIMENSIONS))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def near(vector: np.ndarray, cosine: float, seed: int) -> np.ndarray:  # type: ignore[type-arg]
    """A unit vector at exactly ``cosine`` to ``vector``."""
    noise = np.random.default_rng(seed).standard_normal(DIMENSIONS)
    noise -= (noise @ vector) * vector
    noise /= np.linalg.norm(noise)
    return (cosine * vector + np.sqrt(1 - cosine**2) * noise).astype(np.float32)


def test_a_new_index_holds_half_precision_and_finds_the_nearest() -> None:
    vectors = unit_vectors(2000)
    index = PartitionIndex.build(DIMENSIONS, list(range(1, 2001)), vectors)
    assert str(index._index.dtype).lower().endswith("f16")
    for key in (1, 500, 1999):
        query = near(vectors[key - 1], 0.9, seed=key)
        assert index.nearest(query, 4)[0] == key


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_a_saved_file_of_either_precision_is_read_with_the_settings(
    tmp_path: Path, dtype: str
) -> None:
    vectors = unit_vectors(300)
    saved = usearch_index()(ndim=DIMENSIONS, metric="cos", dtype=dtype)
    saved.add(np.arange(1, 301, dtype=np.uint64), vectors)
    saved.save(str(tmp_path / "p.usearch"))
    loaded = PartitionIndex.load(tmp_path / "p.usearch", DIMENSIONS, 300, 300)
    assert loaded is not None and len(loaded) == 300
    assert (loaded._index.expansion_add, loaded._index.expansion_search) == (
        EXPANSION_ADD,
        EXPANSION_SEARCH,
    )
    assert loaded.nearest(near(vectors[41], 0.95, seed=3), 4)[0] == 42
    loaded.add(301, near(vectors[0], 0.5, seed=4))  # and it takes new entries
    assert len(loaded) == 301 and loaded.dirty
