"""Static embeddings distilled from the shipped model, against the model itself: how well
each tells duplicate questions apart, and how fast each embeds a text.

    .venv/bin/python bench/semantic_static_embeddings.py [--pairs FILE] [--limit 2000]

The static model is made as model2vec makes one, without PyTorch: every vocabulary token
goes through all-MiniLM-L6-v2 (int8 ONNX) alone, ``[CLS] token [SEP]``, its mean-pooled
output is its vector; the vectors are centred, reduced by PCA and weighted by
``log(1 + token id)`` (a Zipf-like weight; WordPiece ids grow roughly with rarity).  A text
is then the mean of its tokens' vectors.  Distilling takes minutes; the result is kept in
``--cache-dir``.  Quality is measured on the first ``--limit`` labelled pairs: ROC AUC of
the cosine, and the best precision at 10%, 20% and 30% recall with the guards on.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from thrifty.eval.cache.command import default_pairs
from thrifty.eval.cache.pairs import load_pairs
from thrifty.eval.cache.vectors import embed_texts
from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder
from thrifty.levers.fewer_calls.semantic.guards import veto

Array = np.ndarray[Any, Any]


def distil(embedder: MiniLMEmbedder, cache_dir: Path) -> Array:
    path = cache_dir / "minilm-static-raw.npy"
    if path.exists():
        return np.load(path)
    session, tokenizer = embedder._load()
    size = tokenizer.get_vocab_size()
    out = np.zeros((size, embedder.dimensions), np.float32)
    for start in range(0, size, 1024):
        ids = np.arange(start, min(start + 1024, size))
        batch = np.stack([np.full(len(ids), 101), ids, np.full(len(ids), 102)], axis=1)
        feed = {
            "input_ids": batch.astype(np.int64),
            "attention_mask": np.ones_like(batch, dtype=np.int64),
            "token_type_ids": np.zeros_like(batch, dtype=np.int64),
        }
        out[start : start + len(ids)] = session.run(["last_hidden_state"], feed)[0].mean(axis=1)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


def quality(similarity: Array, same: Array, passes: Array) -> dict[str, float]:
    order = np.argsort(-similarity)
    ranked = same[order]
    true_rate = np.cumsum(ranked) / ranked.sum()
    false_rate = np.cumsum(~ranked) / (~ranked).sum()
    figures = {"roc_auc": float(np.trapezoid(true_rate, false_rate))}
    for recall in (0.1, 0.2, 0.3):
        best = 0.0
        for threshold in np.linspace(0.5, 1.0, 201):
            hit = (similarity >= threshold) & passes
            if hit.sum() and (hit & same).sum() / same.sum() >= recall:
                best = max(best, float((hit & same).sum() / hit.sum()))
        figures[f"precision_at_recall_{recall:g}"] = best
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--dimensions", type=int, default=256)
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "thrifty-eval")
    args = parser.parse_args()
    embedder = MiniLMEmbedder(threads=1)
    pairs = load_pairs(args.pairs or default_pairs(), args.limit)
    texts = list(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)))
    same = np.array([p.same for p in pairs])
    passes = np.array([veto(p.text_a, p.text_b) is None for p in pairs])

    def cosines(vectors: dict[str, Array]) -> Array:
        return np.array([float(vectors[p.text_a] @ vectors[p.text_b]) for p in pairs])

    model = dict(zip(texts, embed_texts(embedder, texts, args.cache_dir), strict=True))
    started = time.perf_counter()
    for text in texts[:200]:
        embedder.embed([text])
    model_ms = 1000 * (time.perf_counter() - started) / min(200, len(texts))

    raw = distil(embedder, args.cache_dir)
    centred = raw - raw.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    table = centred @ components[: args.dimensions].T
    table *= np.log(1 + np.arange(len(table)))[:, None]
    _, tokenizer = embedder._load()
    started = time.perf_counter()
    static = {}
    for text in texts:
        ids = tokenizer.encode(text).ids
        tokens = [i for i in ids if i not in (0, 101, 102)]
        vector = table[tokens].mean(axis=0) if tokens else np.zeros(args.dimensions)
        static[text] = vector / max(float(np.linalg.norm(vector)), 1e-9)
    static_ms = 1000 * (time.perf_counter() - started) / len(texts)

    print(f"{len(pairs)} pairs; ms a text (batch 1, one thread)")
    for name, vectors, ms in (("MiniLM int8", model, model_ms), ("static", static, static_ms)):
        figures = quality(cosines(vectors), same, passes)
        shown = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        print(f"  {name:<12} {ms:6.2f} ms  {shown}")


if __name__ == "__main__":
    main()
