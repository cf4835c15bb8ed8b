"""The resumable embedding store and the scorer's fit, on texts and pairs made here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from thrifty.eval.cache import vectors
from thrifty.eval.cache.fit import fit_scorer, fit_vocabulary, is_fit_pair
from thrifty.eval.cache.pairs import Pair


class CountingEmbedder:
    """Deterministic vectors (from the text's length and first letter); counts texts."""

    model_id = "counting/model v1"
    dimensions = 4

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += texts
        rows = [[len(t), ord(t[0]) if t else 0, 1.0, 0.0] for t in texts]
        out = np.array(rows, dtype=np.float32).reshape(len(texts), 4)
        unit: np.ndarray = out / np.linalg.norm(out, axis=1, keepdims=True)
        return unit


def test_vectors_are_kept_in_chunks_and_only_missing_texts_are_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "CHUNK_TEXTS", 3)
    first = CountingEmbedder()
    texts = ["a", "bb", "ccc", "a", "dddd"]
    got = vectors.embed_texts(first, texts, tmp_path, batch=2)
    assert sorted(first.embedded) == ["a", "bb", "ccc", "dddd"]  # "a" once
    assert np.array_equal(got[0], got[3])
    folder = tmp_path / "counting_model_v1"
    assert len(list(folder.glob("chunk-*.npz"))) == 2  # 3 texts, then 1
    again = CountingEmbedder()
    more = vectors.embed_texts(again, ["dddd", "eeeee", "a"], tmp_path)
    assert again.embedded == ["eeeee"]
    assert np.array_equal(more[0], got[4]) and np.array_equal(more[2], got[0])


def test_a_damaged_chunk_is_embedded_again(tmp_path: Path) -> None:
    vectors.embed_texts(CountingEmbedder(), ["a", "bb"], tmp_path)
    (chunk,) = (tmp_path / "counting_model_v1").glob("chunk-*.npz")
    chunk.write_bytes(b"not a zip")
    again = CountingEmbedder()
    vectors.embed_texts(again, ["a", "bb"], tmp_path)
    assert sorted(again.embedded) == ["a", "bb"]
    nowhere = CountingEmbedder()
    assert vectors.embed_texts(nowhere, ["a"], None).shape == (1, 4)


def test_vocabulary_idf_by_hand() -> None:
    texts = ["how do i cook", "how do i run", "how to cook", "why", "how do i cook"]
    vocabulary = fit_vocabulary(texts)  # 4 distinct texts
    # "how": in 3 of 4: ln(5/4) + 1; "do", "i": in 2 (under 3 texts: left out); unknown:
    # as a word in 1 text, ln(5/2) + 1.
    assert vocabulary.idf == {"how": round(math.log(5 / 4) + 1, 3)}
    assert vocabulary.unknown == round(math.log(5 / 2) + 1, 3)
    assert vocabulary.weight("cook") == vocabulary.unknown


def test_the_fit_quarter_is_stable_and_about_a_quarter() -> None:
    chosen = [is_fit_pair(str(i)) for i in range(4000)]
    assert chosen == [is_fit_pair(str(i)) for i in range(4000)]
    assert 850 < sum(chosen) < 1150


def test_the_fitted_scorer_ranks_by_cosine_and_by_what_differs() -> None:
    pairs, cosines = [], []
    topics = ["python", "cooking", "running", "painting", "chess", "guitar", "french", "tax"]
    for index, topic in enumerate(topics * 6):
        pairs.append(Pair(f"d{index}", f"how do i learn {topic}", f"how can i learn {topic}", True))
        cosines.append(0.9 + 0.01 * (index % 5))
        other = topics[(index + 1) % len(topics)]
        pairs.append(Pair(f"n{index}", f"how do i learn {topic}", f"how do i learn {other}", False))
        cosines.append(0.85 + 0.01 * (index % 5))
    scorer = fit_scorer(pairs, cosines)
    assert scorer is not None
    reworded = scorer.score("how do i learn chess", "how can i learn chess", 0.9)
    new_topic = scorer.score("how do i learn chess", "how do i learn tax", 0.9)
    assert reworded > new_topic  # at equal cosine, a different topic word lowers the score
    assert fit_scorer(pairs[::2], cosines[::2]) is None  # one label only: nothing to fit
