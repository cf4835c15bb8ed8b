"""Prefix identities, tool-list stabilisation and the "prefix changes every time" check.

* :func:`chain` hashes a prompt prefix segment by segment (Python's own hash of each
  segment's JSON, chained), so the hash after the tools, after the system prompt and after
  each message costs one pass over the prompt.  These hashes only key the stage's own
  trackers: 64 bits, salted per process, several times faster than a cryptographic hash
  (a collision could only mislead one prefix's reuse estimate).  :func:`stable_digest` is
  the cross-process one (SHA-256), for what leaves the process.
* :class:`ToolForms` keeps, per set of tools (order and key order ignored), the first form
  it saw: a later request that sends the same tools in another order, or with their
  schemas' keys in another order, is sent with that first form, so its prefix stays
  byte-stable.  Keeping the app's own first form (not a sorted one) changes nothing for an
  app whose tools are already stable.
* :class:`PrefixChurn` remembers the last few stable-prefix hashes per (task, model) and
  says when every one of them differed: a prefix that never repeats is never cached.

All three are bounded LRUs owned by one stage.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from typing import Any

import orjson


def json_bytes(value: Any, sort: bool = False) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort else 0)
    except TypeError:
        return repr(value).encode()


PrefixKey = int


def chain(previous: PrefixKey | str, segment: Any) -> PrefixKey:
    """The hash of a prefix extended by ``segment`` (any JSON value)."""
    return hash((previous, json_bytes(segment)))


def chain_json(previous: PrefixKey | str, segment_json: bytes) -> PrefixKey:
    """:func:`chain` of a segment already serialised by :func:`json_bytes` (a caller that
    needs the bytes for something else too serialises once)."""
    return hash((previous, segment_json))


def stable_digest(*segments_json: bytes) -> str:
    """A SHA-256 hex digest of segments serialised by :func:`json_bytes`, the same in every
    process."""
    hasher = hashlib.sha256()
    for segment_json in segments_json:
        hasher.update(segment_json)
        hasher.update(b"\0")
    return hasher.hexdigest()


class ToolForms:
    """First-seen forms of tool lists, at most ``max_sets`` of them."""

    def __init__(self, max_sets: int) -> None:
        self._max = max_sets
        # A set's key is its canonical bytes themselves, not a hash of them: a collision
        # must never hand one caller another's tools.
        self._forms: OrderedDict[bytes, tuple[bytes, list[Any]]] = OrderedDict()
        self._firsts: dict[int, bytes] = {}  # hash of a first form's bytes -> its set's key

    def stable_json(self, tools: list[Any]) -> tuple[list[Any], bytes]:
        """``tools`` in the form first seen for the same set (``tools`` itself when it is
        that form, or new), and that form's :func:`json_bytes` (serialised once)."""
        exact = json_bytes(tools)
        known = self._firsts.get(hash(exact))
        seen = self._forms.get(known) if known is not None else None
        if known is not None and seen is not None and seen[0] == exact:
            self._forms.move_to_end(known)  # the usual case: already the first form
            return tools, exact
        canonical = sorted(json_bytes(tool, sort=True) for tool in tools)
        key = b"\0".join(canonical)
        found = self._forms.get(key)
        if found is None:
            self._forms[key] = (exact, tools)
            self._firsts[hash(exact)] = key
            while len(self._forms) > self._max:
                old_bytes, _ = self._forms.popitem(last=False)[1]
                self._firsts.pop(hash(old_bytes), None)
            return tools, exact
        self._forms.move_to_end(key)
        first_bytes, first = found
        return (tools, exact) if first_bytes == exact else (first, first_bytes)


class PrefixChurn:
    """Per (task, model): do the last ``window`` stable prefixes all differ?"""

    def __init__(self, window: int, max_groups: int) -> None:
        self._window = window
        self._max = max_groups
        self._recent: OrderedDict[tuple[str | None, str], deque[PrefixKey]] = OrderedDict()

    def unstable(self, group: tuple[str | None, str], key: PrefixKey) -> bool:
        """Record ``key`` for ``group``; True when the window is full and every key in it
        differs (the prefix has changed on every one of the last ``window`` requests)."""
        recent = self._recent.get(group)
        if recent is None:
            recent = self._recent[group] = deque(maxlen=self._window)
            while len(self._recent) > self._max:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(group)
        recent.append(key)
        return len(recent) == self._window and len(set(recent)) == self._window
