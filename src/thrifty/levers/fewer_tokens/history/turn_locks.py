"""One turn at a time per kept conversation, within the process.

Two turns of one conversation in flight at once would both read the same stored turns and
the later answer would overwrite the earlier one.  :class:`TurnLocks` hands out one
:class:`asyncio.Lock` per conversation key; an entry lives only while a turn holds it or
waits for it, so the map holds the conversations with a turn in flight and no more (and
at most ``limit`` of them).  A turn that finds its conversation busy waits (at most
``wait_s``) or, with ``wait=False``, is refused at once: both refusals are
:class:`~thrifty.errors.ConversationBusy` (HTTP 409).

:meth:`TurnLocks.acquire` returns a :class:`Turn` whose :meth:`Turn.release` is
idempotent: the stage calls it on every way out (an answer stored, a failure, a stream
completed or cut, a cancelled request), and a second call does nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from thrifty.errors import ConversationBusy


@dataclass(slots=True)
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # turns holding or waiting for the lock


class Turn:
    """A held turn: :meth:`release` lets the next turn of the conversation in."""

    __slots__ = ("_entry", "_key", "_locks")

    def __init__(self, locks: TurnLocks, key: str, entry: _Entry) -> None:
        self._locks: TurnLocks | None = locks
        self._key = key
        self._entry = entry

    def release(self) -> None:
        locks, self._locks = self._locks, None
        if locks is None:
            return
        self._entry.lock.release()
        locks._leave(self._key, self._entry)


class TurnLocks:
    """The locks of the conversations with a turn in flight (see the module notes)."""

    def __init__(self, *, limit: int, wait: bool, wait_s: float) -> None:
        if limit <= 0 or wait_s <= 0:
            raise ValueError("limit and wait_s must be positive")
        self._entries: dict[str, _Entry] = {}
        self._limit = limit
        self._wait = wait
        self._wait_s = wait_s

    def __len__(self) -> int:
        """Conversations with a turn in flight (holding or waiting)."""
        return len(self._entries)

    async def acquire(self, key: str) -> Turn:
        """Wait for ``key``'s turn; raises :class:`ConversationBusy` when it is busy and
        turns do not wait, when the wait passes ``wait_s``, or when ``limit``
        conversations already have a turn in flight."""
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self._limit:
                raise ConversationBusy(
                    f"more than {self._limit} conversations have a turn in flight; retry later"
                )
            entry = self._entries[key] = _Entry()
        elif entry.lock.locked() and not self._wait:
            raise ConversationBusy(
                "another turn of this conversation is in flight; send the next turn "
                "after its answer"
            )
        entry.users += 1
        try:
            async with asyncio.timeout(self._wait_s):
                await entry.lock.acquire()
        except TimeoutError:
            self._leave(key, entry)
            raise ConversationBusy(
                f"another turn of this conversation was still in flight after "
                f"{self._wait_s:g} s; send the next turn after its answer"
            ) from None
        except BaseException:
            self._leave(key, entry)
            raise
        return Turn(self, key, entry)

    def _leave(self, key: str, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users == 0 and self._entries.get(key) is entry:
            del self._entries[key]
