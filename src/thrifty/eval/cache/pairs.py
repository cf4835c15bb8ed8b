"""Labelled query pairs (``{"id", "text_a", "text_b", "label"}`` JSON Lines), their split
into a calibration half and a held-out half."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from thrifty.errors import ConfigError

__all__ = ["Pair", "load_pairs", "split_of"]

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
