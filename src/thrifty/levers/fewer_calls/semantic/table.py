"""A calibration table file: the thresholds `thrifty eval cache --save FILE` derived on the
user's own pairs, read by the stage instead of the shipped defaults.

    {"model_id": "all-MiniLM-L6-v2-onnx-int8", "thresholds": {"0.02": 0.95, "0.05": 0.9}}

A target the calibration could not meet is stored as ``null`` (never serve at that budget).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import orjson

from thrifty.errors import ConfigError

__all__ = ["dump_table", "load_table"]


def load_table(path: Path, model_id: str) -> dict[float, float | None]:
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
    table: dict[float, float | None] = {}
    for target, threshold in data["thresholds"].items():
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


def dump_table(model_id: str, thresholds: Mapping[float, float | None]) -> bytes:
    return orjson.dumps(
        {"model_id": model_id, "thresholds": {f"{t:g}": v for t, v in sorted(thresholds.items())}},
        option=orjson.OPT_INDENT_2,
    )
