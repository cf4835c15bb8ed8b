"""Embeddings of evaluation texts, kept on disk between runs.

Embedding the 137,551 distinct texts of Quora Question Pairs takes about an hour on one
CPU core, so vectors are saved as they are computed: in chunks (``chunk-*.npz`` under
``cache_dir/<model id>/``), each holding the SHA-256 of its texts and their vectors.  A run
reads every chunk of the model, embeds only the texts none of them holds, and saves those
chunk by chunk: an interrupted run loses at most one chunk, and a run on more pairs reuses
what a smaller one computed.  A damaged chunk is ignored (its texts are embedded again).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Embedder, Vectors

__all__ = ["CHUNK_TEXTS", "embed_texts"]

CHUNK_TEXTS = 2048  # texts saved per chunk file
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _read_chunks(folder: Path, dimensions: int) -> dict[bytes, Vectors]:
    import numpy as np

    known: dict[bytes, Vectors] = {}
    for path in sorted(folder.glob("chunk-*.npz")):
        try:
            with np.load(path) as chunk:
                digests, vectors = chunk["digests"], chunk["vectors"]
        except (OSError, ValueError, KeyError, EOFError):
            continue  # damaged: its texts are embedded again
        if (
            digests.ndim != 2
            or digests.shape[1] != 32
            or vectors.shape
            != (
                len(digests),
                dimensions,
            )
        ):
            continue
        for digest, vector in zip(digests, vectors, strict=True):
            known[digest.tobytes()] = vector
    return known


def _save_chunk(folder: Path, digests: list[bytes], vectors: Vectors) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(b"".join(digests)).hexdigest()[:24]
    temporary = folder / f"partial-{name}.npz"
    with temporary.open("wb") as handle:
        np.savez(
            handle,
            digests=np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32),
            vectors=vectors,
        )
    temporary.replace(folder / f"chunk-{name}.npz")


def embed_texts(
    embedder: Embedder,
    texts: Sequence[str],
    cache_dir: Path | None,
    *,
    batch: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> Vectors:
    """The vectors of ``texts`` in order: those ``cache_dir`` holds for this model are read,
    the others computed (in batches of similar lengths) and saved there."""
    import numpy as np

    folder = cache_dir / _UNSAFE.sub("_", embedder.model_id) if cache_dir else None
    known = _read_chunks(folder, embedder.dimensions) if folder and folder.is_dir() else {}
    digests = [_digest(text) for text in texts]
    missing: list[int] = []  # the first row of each text to embed
    seen: set[bytes] = set()
    for row, digest in enumerate(digests):
        if digest not in known and digest not in seen:
            seen.add(digest)
            missing.append(row)
    for start in range(0, len(missing), CHUNK_TEXTS):
        chosen = missing[start : start + CHUNK_TEXTS]
        # Batches of similar lengths: padding to the longest of a batch is wasted work.
        chosen.sort(key=lambda i: len(texts[i]))
        vectors: Vectors = np.zeros((len(chosen), embedder.dimensions), np.float32)
        for first in range(0, len(chosen), batch):
            vectors[first : first + batch] = embedder.embed(
                [texts[i] for i in chosen[first : first + batch]]
            )
            if progress is not None:
                progress(min(start + first + batch, len(missing)), len(missing))
        fresh = [digests[i] for i in chosen]
        known.update(zip(fresh, vectors, strict=True))
        if folder is not None:
            _save_chunk(folder, fresh, vectors)
    out: Vectors = np.zeros((len(texts), embedder.dimensions), np.float32)
    for row, digest in enumerate(digests):
        out[row] = known[digest]
    return out
