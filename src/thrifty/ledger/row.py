"""One ledger row per request, and its mapping to SQLite parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from thrifty.ledger.money import optional_pico_to_usd, optional_usd_to_pico, usd_to_pico
from thrifty.types import Usage


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """What one request through thrifty did and cost (errors and cache hits included).

    ``cost_usd`` is ``None`` when the model has no known price: an unpriced call is never
    booked as $0.  ``savings`` maps a lever name to the USD it saved on this request.
    """

    request_id: str
    ts: float  # unix seconds when the request was received
    tenant: str | None
    task: str | None
    dialect: str  # "openai" | "anthropic"
    endpoint: str  # "/v1/chat/completions", "/v1/messages", "library", ...
    requested_model: str | None
    model: str | None  # model actually used
    provider: str | None
    stream: bool
    usage: Usage
    cost_usd: Decimal | None
    baseline_usd: Decimal | None
    savings: Mapping[str, Decimal] = field(hash=False)
    # "genai-prices" | "override" | "local" | "unpriced" | "no_usage" | "none" (no call made)
    price_source: str
    latency_ms: float
    status: int  # HTTP status returned to the app
    error: str | None = None  # error code/message (never contains secrets)
    detail: str | None = None  # free text: what levers did


COLUMNS = (
    "request_id",
    "ts",
    "tenant",
    "task",
    "dialect",
    "endpoint",
    "requested_model",
    "model",
    "provider",
    "stream",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "cost_pusd",
    "baseline_pusd",
    "saved_pusd",
    "price_source",
    "latency_ms",
    "status",
    "error",
    "detail",
)
INSERT_ROW = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
INSERT_SAVING = "INSERT INTO savings (request_id, lever, saved_pusd) VALUES (?, ?, ?)"
SELECT_ROWS = f"SELECT {', '.join(COLUMNS)} FROM requests"

RowParams = tuple[Any, ...]
SavingParams = tuple[str, str, int]


def to_params(row: LedgerRow) -> tuple[RowParams, list[SavingParams]]:
    """SQL parameters for ``row`` (money in pico-dollars).  Raises ``ValueError`` or
    ``TypeError`` for a value the ledger cannot store exactly."""
    savings = [(row.request_id, lever, usd_to_pico(usd)) for lever, usd in row.savings.items()]
    u = row.usage
    params = (
        row.request_id,
        float(row.ts),
        row.tenant,
        row.task,
        row.dialect,
        row.endpoint,
        row.requested_model,
        row.model,
        row.provider,
        1 if row.stream else 0,
        u.input_tokens,
        u.output_tokens,
        u.cache_read_tokens,
        u.cache_write_5m_tokens,
        u.cache_write_1h_tokens,
        u.reasoning_tokens,
        optional_usd_to_pico(row.cost_usd),
        optional_usd_to_pico(row.baseline_usd),
        sum(s[2] for s in savings),
        row.price_source,
        float(row.latency_ms),
        int(row.status),
        row.error,
        row.detail,
    )
    return params, savings


def from_db(record: Sequence[Any], savings: Mapping[str, Decimal]) -> LedgerRow:
    """Inverse of :func:`to_params` for one ``SELECT_ROWS`` record."""
    (
        request_id,
        ts,
        tenant,
        task,
        dialect,
        endpoint,
        requested_model,
        model,
        provider,
        stream,
        input_tokens,
        output_tokens,
        cache_read,
        cache_5m,
        cache_1h,
        reasoning,
        cost,
        baseline,
        _saved,
        price_source,
        latency_ms,
        status,
        error,
        detail,
    ) = record
    return LedgerRow(
        request_id=request_id,
        ts=ts,
        tenant=tenant,
        task=task,
        dialect=dialect,
        endpoint=endpoint,
        requested_model=requested_model,
        model=model,
        provider=provider,
        stream=bool(stream),
        usage=Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read,
            cache_write_5m_tokens=cache_5m,
            cache_write_1h_tokens=cache_1h,
            reasoning_tokens=reasoning,
        ),
        cost_usd=optional_pico_to_usd(cost),
        baseline_usd=optional_pico_to_usd(baseline),
        savings=savings,
        price_source=price_source,
        latency_ms=latency_ms,
        status=status,
        error=error,
        detail=detail,
    )
