"""Rendering rates for people (``thrifty prices MODEL``) and for JSON output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
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


def _columns(name: str, rates: ModelRates) -> list[tuple[str, ModelRates]]:
    """``rates`` and its long-context tiers as labelled table columns."""
    prefix = "" if name == "standard" else name + " "
    columns = [(name, rates)]
    columns += [(f"{prefix}> {t:,} in", tier) for t, tier in rates.long_context_tiers()]
    return columns


def format_rates(
    rates: ModelRates,
    *,
    service_tiers: Mapping[str, ModelRates] | None = None,
    price_changes: Sequence[date] = (),
    as_of: date | None = None,
) -> str:
    """A small human-readable table of ``rates`` (USD per million tokens): the standard
    rates, their long-context tiers, the batch rates and each ``service_tiers`` entry as
    columns, then notes on batch, server-tool fees, service tiers and ``price_changes``."""
    tiers = _columns("standard", rates)
    if rates.batch is not None:
        tiers += _columns("batch", rates.batch)
    for name, tier_rates in (service_tiers or {}).items():
        tiers += _columns(name, tier_rates)

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
    if rates.batch is not None and rates.batch_derived:
        lines.append(f"batch: {_num(rates.batch_discount * 100)}% off every rate (column 'batch')")
    elif rates.batch is not None:
        lines.append("batch: per-rate Batch API prices from the source (column 'batch')")
    elif rates.batch_discount:
        lines.append(f"batch discount: {_num(rates.batch_discount * 100)}% off every rate")
    else:
        lines.append("batch discount: none known")
    if rates.tool_fees:
        fees = ", ".join(f"{kind} ${_num(fee)}" for kind, fee in rates.tool_fees)
        lines.append(f"server tools, USD per 1,000 uses: {fees}")
    else:
        lines.append("server tools: no fees known (uses are not charged)")
    if service_tiers:
        lines.append(
            f"service tiers with their own rates: {', '.join(service_tiers)} "
            "(other tiers: standard rates)"
        )
    if price_changes:
        when = f"; shown as of {as_of.isoformat()}" if as_of is not None else ""
        changes = ", ".join(d.isoformat() for d in price_changes)
        lines.append(f"price changes (UTC dates): {changes}{when}")
    return "\n".join(lines)


def _rate_dict(rates: ModelRates) -> dict[str, object]:
    out: dict[str, object] = {field: str(getattr(rates, field)) for field, _ in _RATE_FIELDS}
    out["long_context_tiers"] = [
        {"above_input_tokens": threshold, **{f: str(getattr(t, f)) for f, _ in _RATE_FIELDS}}
        for threshold, t in rates.long_context_tiers()
    ]
    return out


def rates_to_json(
    rates: ModelRates,
    *,
    service_tiers: Mapping[str, ModelRates] | None = None,
    price_changes: Sequence[date] = (),
    as_of: date | None = None,
) -> dict[str, object]:
    """``rates`` as a JSON-ready dict: Decimals as strings; the first long-context tier
    under ``long_context_*`` keys and every tier in ``long_context_tiers``; batch rates
    (if any) under ``batch_*`` keys; server-tool fees (USD per 1,000 uses) under
    ``tool_fees_per_1k``; ``service_tiers`` by name; ``price_changes`` as ISO dates."""
    out: dict[str, object] = {
        "model": rates.model,
        "provider": rates.provider,
        "source": rates.source,
        "unit": "USD per 1M tokens",
        "service_tier": rates.service_tier,
    }
    for field, _ in _RATE_FIELDS:
        out[field] = str(getattr(rates, field))
    out["batch_discount"] = str(rates.batch_discount)
    out["batch_derived"] = rates.batch_derived
    out["long_context_threshold"] = rates.long_context_threshold
    for prefix, tier in (("long_context_", rates.long_context), ("batch_", rates.batch)):
        for field, _ in _RATE_FIELDS:
            out[prefix + field] = None if tier is None else str(getattr(tier, field))
    batch = rates.batch
    out["batch_long_context_threshold"] = None if batch is None else batch.long_context_threshold
    for field, _ in _RATE_FIELDS:
        tier = None if batch is None else batch.long_context
        out["batch_long_context_" + field] = None if tier is None else str(getattr(tier, field))
    out["long_context_tiers"] = _rate_dict(rates)["long_context_tiers"]
    out["tool_fees_per_1k"] = {kind: str(fee) for kind, fee in rates.tool_fees}
    out["service_tiers"] = {name: _rate_dict(t) for name, t in (service_tiers or {}).items()}
    out["price_changes"] = [d.isoformat() for d in price_changes]
    out["as_of"] = as_of.isoformat() if as_of is not None else None
    return out
