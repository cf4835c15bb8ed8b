"""Labelled query pairs (``{"id", "text_a", "text_b", "label"}`` JSON Lines), their split
into a calibration half and a held-out half, and their embeddings (cached on disk)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from thrifty.errors import ConfigError

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Embedder, Vectors

__all__ = ["Pair", "embed_texts", "load_pairs", "split_of"]

MAX_TEXT_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Pair:
    id: str
    text_a: str  # the cached query
    text_b: str  # the new query
    same: bool  # label 1: the two ask the same thing


def load_pairs(path: Path, limit: int | None = None) -> list[Pair]:
    """The pairs of ``path``, in file order (the first ``limit`` of them).  A malformed
    line is a :class:`~thrifty.errors.ConfigError` naming it."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read the pairs file {path}: {exc.strerror}") from None
    pairs: list[Pair] = []
    with handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and len(pairs) >= limit:
                break
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
                pair = Pair(
                    str(row["id"]),
                    str(row["text_a"])[:MAX_TEXT_CHARS],
                    str(row["text_b"])[:MAX_TEXT_CHARS],
                    _label(row["label"]),
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"{path}:{number}: not a labelled pair ({exc})") from None
            pairs.append(pair)
    if not pairs:
        raise ConfigError(f"{path} holds no pairs")
    return pairs


def _label(value: object) -> bool:
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    raise ValueError(f"label must be 0 or 1, got {value!r}")


def split_of(pair_id: str) -> str:
    """``"calibration"`` or ``"held_out"``: the parity of the first byte of the SHA-256 of
    the pair's id (stable whatever the file's order or length)."""
    return "calibration" if hashlib.sha256(pair_id.encode()).digest()[0] % 2 == 0 else "held_out"


def embed_texts(
    embedder: Embedder,
    texts: Sequence[str],
    cache_dir: Path | None,
    *,
    batch: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> Vectors:
    """The vectors of ``texts`` in order, read from ``cache_dir`` when this very list was
    embedded before by the same model (keyed by a hash of both), else computed and saved."""
    import numpy as np

    digest = hashlib.sha256(embedder.model_id.encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    cached = cache_dir / f"vectors-{digest.hexdigest()[:24]}.npy" if cache_dir else None
    if cached is not None and cached.exists():
        try:
            loaded: Vectors = np.load(cached)
            if loaded.shape == (len(texts), embedder.dimensions):
                return loaded
        except (OSError, ValueError):
            pass  # recomputed below
    # Batches of similar lengths: padding to the longest of a batch is wasted work.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors: Vectors = np.zeros((len(texts), embedder.dimensions), np.float32)
    for start in range(0, len(texts), batch):
        chosen = order[start : start + batch]
        vectors[chosen] = embedder.embed([texts[i] for i in chosen])
        if progress is not None:
            progress(min(start + batch, len(texts)), len(texts))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, vectors)
    return vectors
