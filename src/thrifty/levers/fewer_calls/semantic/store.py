"""The semantic cache's entries, in a SQLite file of their own, with one vector index per
partition (:mod:`.index`) saved beside it.

An entry is a query, its vector, the answer stored for it (a complete body in the dialect it
came in, with the usage of the call that produced it) and what exploration learnt about it.
The exploration tally of each task (``tallies``: would-be hits checked, and how many were
wrong) is kept beside the entries, so the reported error estimate survives a restart.
Methods are synchronous and serialised by a lock: the stage calls them from one worker
thread at a time (``asyncio.to_thread``), so the event loop never waits on SQLite or on an
index being rebuilt.  An unreadable row is a miss; an unreadable index is rebuilt.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from thrifty.levers.fewer_calls.semantic.calibration import Tally
from thrifty.levers.fewer_calls.semantic.index import PartitionIndex
from thrifty.types import JSON, Dialect, Usage

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Vectors

__all__ = ["Entry", "SemanticStore"]

log = logging.getLogger("thrifty.semantic_cache")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    partition TEXT NOT NULL,
    query TEXT NOT NULL,
    vector BLOB NOT NULL,
    dialect TEXT NOT NULL,
    model TEXT NOT NULL,
    body BLOB NOT NULL,
    usage TEXT NOT NULL,
    created_at REAL NOT NULL,
    agreed INTEGER NOT NULL DEFAULT 0,
    wrong INTEGER NOT NULL DEFAULT 0,
    lowest_agreed REAL,
    highest_wrong REAL
);
CREATE INDEX IF NOT EXISTS entries_partition ON entries (partition, id);
CREATE TABLE IF NOT EXISTS tallies (
    scope TEXT PRIMARY KEY,
    explored INTEGER NOT NULL,
    wrong INTEGER NOT NULL
);
"""
_COLUMNS = (
    "id, partition, query, vector, dialect, model, body, usage, created_at, agreed, wrong, "
    "lowest_agreed, highest_wrong"
)
_USAGE_FIELDS = tuple(f.name for f in fields(Usage))


@dataclass(slots=True)
class Entry:
    id: int
    partition: str
    query: str
    vector: Vectors
    dialect: Dialect
    model: str
    body: JSON
    usage: Usage
    created_at: float
    agreed: int = 0  # explorations that found the cached answer right for a query
    wrong: int = 0  # ... and wrong
    lowest_agreed: float | None = None  # the lowest similarity it was found right at
    highest_wrong: float | None = None  # the highest similarity it was found wrong at


class SemanticStore:
    """Entries of every partition in ``path``; index files under ``path`` + ``.index/``."""

    def __init__(self, path: Path, *, model_id: str, dimensions: int) -> None:
        self.path = path
        self.index_dir = path.with_name(path.name + ".index")
        self.model_id = model_id
        self.dimensions = dimensions
        self._lock = threading.Lock()
        self._indexes: dict[str, PartitionIndex] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a cache: losing the last writes is fine
        self._db.executescript(_SCHEMA)
        self._check_model()

    def _check_model(self) -> None:
        """Vectors of another model (or size) are meaningless here: drop them."""
        expected = f"{self.model_id}/{self.dimensions}"
        row = self._db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
        if row is not None and row[0] == expected:
            return
        if row is not None:
            log.warning("semantic cache: entries of %s dropped (now %s)", row[0], expected)
        self._db.execute("DELETE FROM entries")
        self._db.execute("DELETE FROM tallies")  # they measured the other model
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('model', ?)", (expected,))

    # -- reading ---------------------------------------------------------------------------

    def _index_path(self, partition: str) -> Path:
        return self.index_dir / f"{partition}.usearch"

    def _index(self, partition: str) -> PartitionIndex:
        index = self._indexes.get(partition)
        if index is None:
            count, largest = self._db.execute(
                "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM entries WHERE partition = ?",
                (partition,),
            ).fetchone()
            index = PartitionIndex.load(
                self._index_path(partition), self.dimensions, count, largest
            ) or self._rebuild(partition)
            self._indexes[partition] = index
        return index

    def _rebuild(self, partition: str) -> PartitionIndex:
        import numpy as np

        keys: list[int] = []
        vectors: list[Vectors] = []
        for key, blob in self._db.execute(
            "SELECT id, vector FROM entries WHERE partition = ?", (partition,)
        ):
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape == (self.dimensions,):
                keys.append(key)
                vectors.append(vector)
        stacked = np.stack(vectors) if vectors else np.zeros((0, self.dimensions), np.float32)
        return PartitionIndex.build(self.dimensions, keys, stacked)

    def _entry(self, row: tuple[object, ...]) -> Entry | None:
        import numpy as np

        try:
            (key, partition, query, blob, dialect, model, body, usage) = row[:8]
            vector = np.frombuffer(blob, dtype=np.float32)  # type: ignore[call-overload]
            parsed_body = orjson.loads(body)  # type: ignore[arg-type]
            counts = orjson.loads(usage)  # type: ignore[arg-type]
            if vector.shape != (self.dimensions,) or dialect not in ("openai", "anthropic"):
                return None
            if not isinstance(parsed_body, dict):
                return None
            return Entry(
                id=int(key),  # type: ignore[call-overload]
                partition=str(partition),
                query=str(query),
                vector=vector,
                dialect=dialect,
                model=str(model),
                body=parsed_body,
                usage=Usage(**{f: int(counts.get(f, 0)) for f in _USAGE_FIELDS}),
                created_at=float(row[8]),  # type: ignore[arg-type]
                agreed=int(row[9]),  # type: ignore[call-overload]
                wrong=int(row[10]),  # type: ignore[call-overload]
                lowest_agreed=row[11],  # type: ignore[arg-type]
                highest_wrong=row[12],  # type: ignore[arg-type]
            )
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError) as exc:
            log.warning("semantic cache: entry %s unreadable (%s): a miss", row[0], exc)
            return None

    def nearest(
        self, partition: str, vector: Vectors, *, count: int = 4, newer_than: float = 0.0
    ) -> list[tuple[Entry, float]]:
        """Entries of ``partition`` nearest to ``vector`` (unit length), with their cosine
        similarity recomputed from the stored vector, most similar first.  Entries created
        before ``newer_than`` (expired) are left out."""
        with self._lock:
            keys = self._index(partition).nearest(vector, count)
            # One statement for every candidate, and only rows of this partition: a stale
            # index's key of another partition's entry finds nothing.  ``+partition`` keeps
            # SQLite on the primary key (each row read once by its id) instead of the
            # (partition, id) index, which reads an index page before each row: a third
            # slower on a store larger than memory's cache.
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE +partition = ? AND id IN "
                f"({', '.join('?' * len(keys))})",
                (partition, *keys),
            ).fetchall()
        found: list[tuple[Entry, float]] = []
        for row in rows:
            entry = self._entry(row)
            if entry is None or entry.partition != partition or entry.created_at < newer_than:
                continue
            found.append((entry, float(entry.vector @ vector)))
        found.sort(key=lambda pair: -pair[1])
        return found

    def tallies(self) -> dict[str, Tally]:
        """Each task's exploration tally (``""``: requests with no task).  A row that is not
        a possible tally is left out (logged): that task starts again from nothing."""
        found: dict[str, Tally] = {}
        with self._lock:
            rows = self._db.execute("SELECT scope, explored, wrong FROM tallies").fetchall()
        for scope, explored, wrong in rows:
            valid = isinstance(explored, int) and isinstance(wrong, int)
            if not valid or not 0 <= wrong <= explored or not isinstance(scope, str):
                log.warning("semantic cache: tally of %r unreadable: starting it again", scope)
                continue
            found[scope] = Tally(explored, wrong)
        return found

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    # -- writing ---------------------------------------------------------------------------

    def add(
        self,
        partition: str,
        query: str,
        vector: Vectors,
        *,
        dialect: Dialect,
        model: str,
        body: bytes,
        usage: Usage,
    ) -> int:
        import numpy as np

        counts = orjson.dumps({f: getattr(usage, f) for f in _USAGE_FIELDS})
        blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        with self._lock:
            index = self._index(partition)
            cursor = self._db.execute(
                "INSERT INTO entries (partition, query, vector, dialect, model, body, usage, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (partition, query, blob, dialect, model, body, counts, time.time()),
            )
            key = int(cursor.lastrowid or 0)
            index.add(key, vector)
            return key

    def record(self, entry: Entry, similarity: float, agreed: bool) -> None:
        """What an exploration found for ``entry`` at ``similarity``."""
        if agreed:
            entry.agreed += 1
            if entry.lowest_agreed is None or similarity < entry.lowest_agreed:
                entry.lowest_agreed = similarity
        else:
            entry.wrong += 1
            if entry.highest_wrong is None or similarity > entry.highest_wrong:
                entry.highest_wrong = similarity
        with self._lock:
            self._db.execute(
                "UPDATE entries SET agreed = ?, wrong = ?, lowest_agreed = ?, highest_wrong = ? "
                "WHERE id = ?",
                (entry.agreed, entry.wrong, entry.lowest_agreed, entry.highest_wrong, entry.id),
            )

    def save_tally(self, scope: str, tally: Tally) -> None:
        """Keep ``tally`` as the exploration tally of ``scope`` (a task, or ``""``)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO tallies VALUES (?, ?, ?)",
                (scope, tally.explored, tally.wrong),
            )

    def save_indexes(self) -> None:
        """Write every index changed since it was loaded (done at close)."""
        with self._lock:
            for partition, index in self._indexes.items():
                if index.dirty:
                    try:
                        index.save(self._index_path(partition))
                    except OSError as exc:
                        log.warning("semantic cache: cannot save an index (%s)", exc)

    def close(self) -> None:
        self.save_indexes()
        with self._lock:
            self._db.close()
