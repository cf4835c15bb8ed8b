"""One vector index per partition (usearch HNSW, cosine, half-precision), saved to a file of
its own.

The SQLite store holds the truth (every entry with its vector); an index file is only a
faster way back to it.  :meth:`PartitionIndex.load` takes a file only when it is readable
and holds exactly the entries the store has for that partition (same count, same largest
key); otherwise the index is rebuilt from the stored vectors.  Every candidate an index
returns is checked against the store again (its partition, its vector's similarity), so a
damaged or stale index file can cost a miss, never a wrong answer.

The index holds its vectors as 16-bit floats: the search reads half the memory (28% less
CPU than 32-bit floats on real query vectors, with the same nearest entry found), and the
similarity a lookup reports is always recomputed from the stored 32-bit vector.  An index
file saved with 32-bit floats (before) is still read as it is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Vectors

__all__ = ["PartitionIndex", "usearch_index"]

log = logging.getLogger("thrifty.semantic_cache")
# expansion_add 32 (usearch's default is 128): half the CPU to build, and every candidate is
# checked against its stored vector anyway.  expansion_search 64: fewer found the true
# nearest entry less often on random vectors (bench/semantic_index.py).
EXPANSION_ADD = 32
EXPANSION_SEARCH = 64


def usearch_index() -> Any:
    """usearch's ``Index`` class, with onnxruntime imported first: importing onnxruntime
    *after* ``usearch.index`` crashes the process (a segmentation fault, usearch 2.26.6 with
    onnxruntime 1.32.0 on Linux), and the semantic cache needs both."""
    import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index


class PartitionIndex:
    """Nearest neighbours among one partition's entries, keyed by entry id."""

    def __init__(self, dimensions: int, index: Any | None = None) -> None:
        Index = usearch_index()
        self.dimensions = dimensions
        self._index: Any = index or Index(
            ndim=dimensions, metric="cos", dtype="f16", expansion_add=EXPANSION_ADD
        )
        # A file restored keeps neither setting (usearch's defaults come back): set both.
        self._index.expansion_add = EXPANSION_ADD
        self._index.expansion_search = EXPANSION_SEARCH
        self.dirty = False

    @classmethod
    def build(cls, dimensions: int, keys: list[int], vectors: Vectors) -> PartitionIndex:
        import numpy as np

        made = cls(dimensions)
        if keys:
            made._index.add(np.asarray(keys, dtype=np.uint64), vectors, threads=1)
        made.dirty = True
        return made

    @classmethod
    def load(cls, path: Path, dimensions: int, count: int, largest: int) -> PartitionIndex | None:
        """The index saved at ``path`` if it is readable and matches the store (``count``
        entries, the largest key ``largest``); ``None`` otherwise (rebuild it)."""
        if not path.exists():
            return None
        try:
            import numpy as np

            index = usearch_index().restore(str(path), view=False)
            if index is None or index.ndim != dimensions or len(index) != count:
                return None
            if count and int(np.asarray(index.keys).max()) != largest:
                return None
        except Exception as exc:  # any damage: rebuild
            log.warning("semantic cache: index file %s unreadable (%s); rebuilding", path, exc)
            return None
        return cls(dimensions, index)

    def __len__(self) -> int:
        return len(self._index)

    def add(self, key: int, vector: Vectors) -> None:
        import numpy as np

        self._index.add(np.uint64(key), vector)
        self.dirty = True

    def remove(self, key: int) -> None:
        self._index.remove(key)
        self.dirty = True

    def nearest(self, vector: Vectors, count: int) -> list[int]:
        """Up to ``count`` entry ids, nearest first."""
        if len(self._index) == 0:
            return []
        # threads=1: usearch's default (0, every core) hands one query to a thread pool,
        # which costs more than the search of a small partition (0.2 ms of 0.5 at 2,000).
        found = self._index.search(vector, min(count, len(self._index)), threads=1)
        return [int(k) for k in found.keys]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        self._index.save(str(partial))
        partial.replace(path)
        self.dirty = False
