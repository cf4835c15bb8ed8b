"""A memo keyed by text, bounded by the characters its keys hold: the least recently used
entries leave first.

For work that repeats on the same long texts (a system prompt on every request, a growing
chat): the bound is on the keys' characters, which a value derived from the text (its
token pieces, a split of it) is proportional to.  Not thread-safe: each user keeps it on
one event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["BoundedMemo"]

V = TypeVar("V")


class BoundedMemo(Generic[V]):
    """``text -> value`` holding at most ``max_chars`` characters of keys; a key longer
    than that is never kept."""

    __slots__ = ("_entries", "_held", "max_chars")

    def __init__(self, max_chars: int) -> None:
        if max_chars < 0:
            raise ValueError(f"max_chars must be at least 0, not {max_chars}")
        self.max_chars = max_chars
        self._held = 0
        self._entries: OrderedDict[str, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        """The keys kept, least recent first."""
        return iter(self._entries)

    def __contains__(self, key: str) -> bool:
        """Whether ``key`` is kept (without making it recent)."""
        return key in self._entries

    @property
    def held_chars(self) -> int:
        """The characters of the keys kept (at most :attr:`max_chars`)."""
        return self._held

    def get(self, key: str) -> V | None:
        """The value kept for ``key`` (now the most recent), or ``None``."""
        entries = self._entries
        try:
            entries.move_to_end(key)  # a hit costs two lookups in C
        except KeyError:
            return None
        return entries[key]

    def put(self, key: str, value: V) -> None:
        """Keep ``value`` for ``key`` as the most recent entry, then drop the least
        recent ones until the keys fit in :attr:`max_chars` (a key longer than that is
        not kept; an earlier value of ``key`` is replaced)."""
        entries = self._entries
        if key in entries:
            entries[key] = value
            entries.move_to_end(key)
            return
        if len(key) > self.max_chars:
            return
        entries[key] = value
        self._held += len(key)
        while self._held > self.max_chars:
            old, _ = entries.popitem(last=False)
            self._held -= len(old)
