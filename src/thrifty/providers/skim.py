"""Reading an embeddings answer's ``usage`` and ``model`` from its two ends, so that the
gateway can pass the answer on as it came without parsing megabytes of vectors.

An embeddings answer is ``{"object": "list", "data": [...], "model": ..., "usage": {...}}``
(OpenAI writes ``model`` and ``usage`` after ``data``; some OpenAI-compatible servers put
``model`` first).  ``data`` holds only numbers, base64 strings and the keys ``object``,
``index`` and ``embedding``, so a ``"usage"`` or ``"model"`` key within ``EDGE`` bytes of
either end is the answer's own.  Anything else (no ``usage`` object near an end, a nested
one, a body that is not a JSON object) gives ``None``: the caller parses the whole answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from thrifty.types import JSON

EDGE = 4096  # bytes read at each end
_USAGE = re.compile(rb'"usage"\s*:\s*(\{[^{}]*\})')
_MODEL = re.compile(rb'"model"\s*:\s*("(?:[^"\\]|\\.){1,256}")')


@dataclass(frozen=True, slots=True)
class Skimmed:
    usage: JSON
    model: str | None


def _last(pattern: re.Pattern[bytes], *parts: bytes) -> bytes | None:
    for part in parts:
        found = pattern.findall(part)
        if found:
            last: bytes = found[-1]
            return last
    return None


def skim(raw: bytes) -> Skimmed | None:
    """``usage`` and ``model`` of the embeddings answer ``raw``, or ``None`` when they
    cannot be read from its ends (parse it whole then)."""
    if len(raw) <= 2 * EDGE:
        return None  # small: a whole parse is as cheap
    head, tail = raw[:EDGE], raw[-EDGE:]
    if head.lstrip()[:1] != b"{" or tail.rstrip()[-1:] != b"}":
        return None
    found = _last(_USAGE, tail, head)
    if found is None:
        return None
    try:
        usage = orjson.loads(found)
    except orjson.JSONDecodeError:
        return None
    model = _last(_MODEL, tail, head)
    try:
        name = orjson.loads(model) if model is not None else None
    except orjson.JSONDecodeError:
        name = None
    return Skimmed(usage=usage, model=name if isinstance(name, str) else None)
