"""The shipped embedder (all-MiniLM-L6-v2 int8, loaded once for the session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thrifty.levers.fewer_calls.semantic import embedder as embedder_module
from thrifty.levers.fewer_calls.semantic.embedder import EmbedderUnavailable, MiniLMEmbedder
from thrifty.levers.fewer_calls.semantic.guards import veto


def test_vectors_are_unit_length_and_deterministic(minilm: MiniLMEmbedder) -> None:
    texts = ["How do I learn Python?", "", "x" * 5000]
    vectors = minilm.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(minilm.embed(texts[:1])[0], vectors[0], atol=1e-5)  # batch-independent
    assert minilm.embed([]).shape == (0, 384)


def test_paraphrases_are_closer_than_unrelated_queries(minilm: MiniLMEmbedder) -> None:
    a, b, c = minilm.embed(
        [
            "How can I lose weight fast?",
            "What is the fastest way to lose weight?",
            "What is the capital of France?",
        ]
    )
    assert float(a @ b) > 0.8 > 0.3 > float(a @ c)


def test_the_trap_embeddings_cannot_catch_is_caught_by_the_guards(minilm: MiniLMEmbedder) -> None:
    on, off, paraphrase = minilm.embed(
        ["turn on dark mode", "turn off dark mode", "how do I enable dark mode"]
    )
    assert float(on @ off) > float(on @ paraphrase)  # no threshold separates them
    assert veto("turn on dark mode", "turn off dark mode") == "polarity"
    assert veto("turn on dark mode", "how do I enable dark mode") is None


def test_a_damaged_model_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedder_module, "MODEL_SHA256", "0" * 64)
    with pytest.raises(EmbedderUnavailable, match="not the expected model"):
        MiniLMEmbedder().embed(["hello"])


def test_a_text_alone_embeds_as_it_does_in_a_batch(minilm: MiniLMEmbedder) -> None:
    """One text is encoded on its own path (no batch, no padding): same vector."""
    text = "How do I reset my password?"
    alone = minilm.embed([text])[0]
    batched = minilm.embed([text, "A much longer question that pads the first one in its batch"])
    assert float(alone @ batched[0]) > 1 - 1e-5


REFERENCE = Path(__file__).with_name("data") / "minilm_reference.npz"
SAME_MODEL = 1e-3  # the bound for "the same model": cosine to the reference vectors


def test_lookups_match_the_reference_vectors(minilm: MiniLMEmbedder) -> None:
    """Vectors of the shipped model (one text per call, as lookups embed), kept in
    ``data/``; a faster way of running the model must stay within the bound."""
    reference = np.load(REFERENCE, allow_pickle=False)
    texts = [str(text) for text in reference["texts"]]
    for text, expected in zip(texts, reference["vectors"], strict=True):
        assert float(minilm.embed([text])[0] @ expected) > 1 - SAME_MODEL, text
    batched = minilm.embed(texts)
    assert np.min(np.sum(batched * reference["vectors"], axis=1)) > 1 - SAME_MODEL
