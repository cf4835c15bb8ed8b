"""Rendering rates for people (``thrifty prices MODEL``) and for JSON output."""

from __future__ import annotations

from decimal import Decimal

from thrifty.pricing.rates import ModelRates

_RATE_FIELDS = (
    ("input", "input"),
    ("cache_read", "cache read"),
    ("cache_write_5m", "cache write 5m"),
    ("cache_write_1h", "cache write 1h"),
    ("output", "output"),
)


def _num(value: Decimal) -> str:
    """A Decimal as plain positional text, without exponent or trailing zeros."""
    return f"{value.normalize():f}" if value else "0"


def format_rates(rates: ModelRates) -> str:
    """A small human-readable table of ``rates`` (USD per million tokens)."""
    tiers: list[tuple[str, ModelRates]] = [("standard", rates)]
    level: ModelRates | None = rates
    while level is not None and level.long_context is not None:
        tiers.append((f"> {level.long_context_threshold:,} in", level.long_context))
        level = level.long_context
    if rates.batch is not None:
        tiers.append(("batch", rates.batch))
        level = rates.batch
        while level.long_context is not None:
            tiers.append((f"batch > {level.long_context_threshold:,} in", level.long_context))
            level = level.long_context

    header = f"{rates.model}"
    if rates.provider:
        header += f" ({rates.provider})"
    header += f"  source: {rates.source}"
    label_width = max(len(label) for _, label in _RATE_FIELDS)
    col_width = max(12, *(len(name) for name, _ in tiers))
    lines = [header, "USD per 1M tokens", ""]
    lines.append(" " * label_width + "".join(f"  {name:>{col_width}}" for name, _ in tiers))
    for field, label in _RATE_FIELDS:
        cells = "".join(f"  {'$' + _num(getattr(t, field)):>{col_width}}" for _, t in tiers)
        lines.append(f"{label:<{label_width}}{cells}")
    lines.append("")
    if rates.batch is not None:
        lines.append("batch: per-rate Batch API prices from the source (column 'batch')")
    elif rates.batch_discount:
        lines.append(f"batch discount: {_num(rates.batch_discount * 100)}% off the total")
    else:
        lines.append("batch discount: none known")
    return "\n".join(lines)


def rates_to_json(rates: ModelRates) -> dict[str, str | int | None]:
    """``rates`` as a flat JSON-ready dict: Decimals as strings, the first long-context tier
    under ``long_context_*`` keys and exact batch rates (if any) under ``batch_*`` keys."""
    out: dict[str, str | int | None] = {
        "model": rates.model,
        "provider": rates.provider,
        "source": rates.source,
        "unit": "USD per 1M tokens",
    }
    for field, _ in _RATE_FIELDS:
        out[field] = str(getattr(rates, field))
    out["batch_discount"] = str(rates.batch_discount)
    out["long_context_threshold"] = rates.long_context_threshold
    for prefix, tier in (("long_context_", rates.long_context), ("batch_", rates.batch)):
        for field, _ in _RATE_FIELDS:
            out[prefix + field] = None if tier is None else str(getattr(tier, field))
    batch = rates.batch
    out["batch_long_context_threshold"] = None if batch is None else batch.long_context_threshold
    for field, _ in _RATE_FIELDS:
        tier = None if batch is None else batch.long_context
        out["batch_long_context_" + field] = None if tier is None else str(getattr(tier, field))
    return out
