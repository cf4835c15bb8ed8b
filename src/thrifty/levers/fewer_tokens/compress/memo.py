"""What compressing a prompt's prefix gave, remembered: system prompts repeat, and their
compression is the costly part.

A prefix is keyed by its texts, slot by slot (the key of slot ``i`` holds the key of slot
``i - 1``), so a hit is exact: same settings, same texts in the same places.  The value is
the slot's compressed text, what was removed from it, and what the deduplication knew
after it (shared with the slot before when the slot taught it nothing).  The memo is
bounded by the characters it holds (texts in and out, and those snapshots) and forgets the
least recently used prefixes first.  Each compression stage owns one; nothing is shared
between stages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from thrifty.levers.fewer_tokens.compress.dedupe import Seen
from thrifty.levers.fewer_tokens.compress.report import Removal

DEFAULT_MAX_CHARS = 16_000_000


@dataclass(frozen=True, slots=True)
class SlotResult:
    text: str
    removals: tuple[Removal, ...]
    seen: Seen  # what deduplication knows after it


class CompressionMemo:
    """A bounded LRU of :class:`SlotResult` by prefix key."""

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        if max_chars <= 0:
            raise ValueError("max_chars must be positive")
        self.max_chars = max_chars
        self.held = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[SlotResult, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> SlotResult | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found[0]

    def put(self, key: Hashable, result: SlotResult, size: int) -> None:
        if size > self.max_chars or key in self._entries:
            return
        self._entries[key] = (result, size)
        self.held += size
        while self.held > self.max_chars:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.held -= dropped
