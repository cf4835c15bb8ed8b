"""Prefix identities, tool-list stabilisation and the "prefix changes every time" check.

* :func:`chain` hashes a prompt prefix segment by segment (BLAKE2b over each segment's
  JSON, chained), so the hash after the tools, after the system prompt and after each
  message costs one pass over the prompt.
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

_DIGEST_BYTES = 16


def json_bytes(value: Any, sort: bool = False) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort else 0)
    except TypeError:
        return repr(value).encode()


def chain(previous: str, segment: Any) -> str:
    """The hash of a prefix extended by ``segment`` (any JSON value)."""
    hasher = hashlib.blake2b(previous.encode(), digest_size=_DIGEST_BYTES)
    hasher.update(json_bytes(segment))
    return hasher.hexdigest()


class ToolForms:
    """First-seen forms of tool lists, at most ``max_sets`` of them."""

    def __init__(self, max_sets: int) -> None:
        self._max = max_sets
        self._forms: OrderedDict[str, tuple[bytes, list[Any]]] = OrderedDict()

    def stable(self, tools: list[Any]) -> list[Any]:
        """``tools`` in the form first seen for the same set (``tools`` itself when it is
        that form, or new)."""
        exact = json_bytes(tools)
        canonical = sorted(json_bytes(tool, sort=True) for tool in tools)
        key = hashlib.blake2b(b"\0".join(canonical), digest_size=_DIGEST_BYTES).hexdigest()
        found = self._forms.get(key)
        if found is None:
            self._forms[key] = (exact, tools)
            while len(self._forms) > self._max:
                self._forms.popitem(last=False)
            return tools
        self._forms.move_to_end(key)
        first_bytes, first = found
        return tools if first_bytes == exact else first


class PrefixChurn:
    """Per (task, model): do the last ``window`` stable prefixes all differ?"""

    def __init__(self, window: int, max_groups: int) -> None:
        self._window = window
        self._max = max_groups
        self._recent: OrderedDict[tuple[str | None, str], deque[str]] = OrderedDict()

    def unstable(self, group: tuple[str | None, str], key: str) -> bool:
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
