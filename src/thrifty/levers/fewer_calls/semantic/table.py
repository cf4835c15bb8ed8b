"""A calibration table file: the thresholds `thrifty eval cache --save FILE` derived on
labelled pairs, and the pair scorer they apply to.

    {"model_id": "all-MiniLM-L6-v2-onnx-int8", "strategy": "scorer",
     "thresholds": {"0.02": null, "0.1": 0.93}, "scorer": {"kind": "logistic", ...}}

``strategy`` is ``"scorer"`` (the thresholds apply to :class:`~.scorer.PairScorer`'s
probability) or ``"cosine"`` (to the cosine similarity; no ``scorer``; a table without
``strategy`` is one).  A target the calibration could not meet is stored as ``null``
(never serve at that budget).  The table the cache uses unless ``calibration_path`` names
another is shipped with thrifty (:data:`SHIPPED_TABLE`), made from Quora Question Pairs
(docs/semantic-cache.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from thrifty.errors import ConfigError
from thrifty.levers.fewer_calls.semantic.scorer import PairScorer, ScorerFormatError

__all__ = ["SHIPPED_TABLE", "Calibration", "dump_table", "load_calibration", "load_table"]

SHIPPED_TABLE = Path(__file__).with_name("calibration-table.json")


@dataclass(frozen=True, slots=True)
class Calibration:
    """Target false-hit rate -> threshold (``None``: never serve), and the scorer the
    thresholds apply to (``None``: they apply to the cosine similarity)."""

    thresholds: Mapping[float, float | None]
    scorer: PairScorer | None = None


def load_calibration(path: Path, model_id: str) -> Calibration:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"semantic cache calibration {path}: unreadable ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("thresholds"), dict):
        raise ConfigError(f"semantic cache calibration {path}: no 'thresholds' table")
    if data.get("model_id") != model_id:
        raise ConfigError(
            f"semantic cache calibration {path} was made with {data.get('model_id')!r}, "
            f"not {model_id!r}: run `thrifty eval cache --save` again"
        )
    strategy = data.get("strategy", "cosine")
    if strategy not in ("cosine", "scorer"):
        raise ConfigError(f"{path}: strategy {strategy!r} is neither 'cosine' nor 'scorer'")
    scorer = None
    if strategy == "scorer":
        try:
            scorer = PairScorer.from_json(data.get("scorer"))
        except ScorerFormatError as exc:
            raise ConfigError(f"semantic cache calibration {path}: scorer: {exc}") from None
    return Calibration(_thresholds(path, data["thresholds"]), scorer)


def _thresholds(path: Path, entries: dict[str, Any]) -> dict[float, float | None]:
    table: dict[float, float | None] = {}
    for target, threshold in entries.items():
        try:
            rate = float(target)
        except ValueError:
            raise ConfigError(f"{path}: {target!r} is not a false-hit rate") from None
        valid = threshold is None or (
            isinstance(threshold, int | float) and not isinstance(threshold, bool)
        )
        if not 0 < rate < 1 or not valid or (threshold is not None and not 0 < threshold <= 1):
            raise ConfigError(f"{path}: {target}: {threshold!r} is not a valid entry")
        table[rate] = None if threshold is None else float(threshold)
    return table


def load_table(path: Path, model_id: str) -> dict[float, float | None]:
    """The thresholds of a table file (see :func:`load_calibration`)."""
    return dict(load_calibration(path, model_id).thresholds)


def dump_table(
    model_id: str, thresholds: Mapping[float, float | None], scorer: PairScorer | None = None
) -> bytes:
    data: dict[str, object] = {
        "model_id": model_id,
        "strategy": "cosine" if scorer is None else "scorer",
        "thresholds": {f"{t:g}": v for t, v in sorted(thresholds.items())},
    }
    if scorer is not None:
        data["scorer"] = scorer.as_json()
    return orjson.dumps(data, option=orjson.OPT_INDENT_2)
