"""Fixtures: a deterministic bag-of-words embedder (stage logic), the real MiniLM model
(loaded once per session), a store in a temporary folder and a cache built on them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from thrifty.config import SemanticCacheSettings
from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder
from thrifty.levers.fewer_calls.semantic.l3_embedder import MiniLML3Embedder
from thrifty.levers.fewer_calls.semantic.stage import SemanticCache, rules_for
from thrifty.levers.fewer_calls.semantic.store import SemanticStore


class WordsEmbedder:
    """Each word is a fixed random direction; a text is the normalised sum of its words.
    Same words: similarity 1.0; texts of 6 and 7 words sharing 6: about 6/sqrt(42) = 0.93."""

    model_id = "test-words"
    dimensions = 2048  # distinct words are near-orthogonal (noise about 0.02)

    def __init__(self) -> None:
        self.calls = 0

    def _word(self, word: str) -> np.ndarray[Any, Any]:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big")
        return np.random.default_rng(seed).standard_normal(self.dimensions)

    def embed(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        self.calls += 1
        rows = []
        for text in texts:
            words = text.lower().replace("?", " ").split() or [""]
            total = sum(self._word(w) for w in words)
            rows.append(total / np.linalg.norm(total))
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dimensions)


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder(threads=1)
    embedder.embed(["load the model once"])
    return embedder


@pytest.fixture(scope="session")
def l3() -> MiniLML3Embedder:
    embedder = MiniLML3Embedder(threads=1)
    embedder.embed(["load the model once"])
    return embedder


@pytest.fixture
def words() -> WordsEmbedder:
    return WordsEmbedder()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SemanticStore]:
    made = SemanticStore(tmp_path / "semantic.db", model_id="test-words", dimensions=2048)
    yield made
    made.close()


MakeCache = Callable[..., SemanticCache]


@pytest.fixture
def make_cache(store: SemanticStore, words: WordsEmbedder) -> MakeCache:
    """``make_cache(threshold=0.8, explore_rate=0.0, random=..., **settings)``."""

    def make(*, random: Callable[[], float] = lambda: 0.5, **settings: Any) -> SemanticCache:
        settings.setdefault("threshold", 0.8)
        settings.setdefault("explore_rate", 0.0)
        settings.setdefault("min_similarity", 0.5)
        lever = SemanticCacheSettings(enabled=True, **settings)
        return SemanticCache(store, words, {None: rules_for(lever, {})}, random=random)

    return make
