"""One ledger row per request (with one ``calls`` row per upstream call), and their
mapping to SQLite parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from thrifty.ledger.money import optional_pico_to_usd, optional_usd_to_pico
from thrifty.types import Call, Cost, Usage

# Bounds on stored text: a row's size must not depend on what a client sends.
MAX_NAME = 256  # model, provider, task, tenant, alias, tier
MAX_TEXT = 2000  # error, detail
MAX_TOKEN_FIGURE = 10**12  # a lever's token figure is stored within 0..this

# A background Responses call's work is booked after its create, in a row of its own:
# request id "<create's request id>.background", this endpoint.  The create and its booking
# are one request to a report (thrifty.ledger.query).
BACKGROUND_ENDPOINT = "background"
BACKGROUND_SUFFIX = ".background"


@dataclass(slots=True)
class CallRecord:
    """One upstream call and what it cost."""

    call: Call
    cost: Cost


@dataclass(slots=True)
class LedgerRow:
    """What one request through thrifty did and cost (errors and cache hits included).

    ``cost_usd`` is ``None`` when any call's price is unknown: an unpriced call is never
    booked as $0.  ``savings`` maps a lever to the USD it saved on this request (``None``:
    unknown); ``saved_usd`` is their sum (``None`` if any is unknown, or if cost or
    baseline is).
    """

    request_id: str
    ts: float  # unix seconds when the request was received
    tenant: str | None
    task: str | None
    dialect: str  # "openai" | "anthropic"
    endpoint: str  # "/v1/chat/completions", "/v1/messages", "library", ...
    requested_model: str | None  # the model the app asked for (an alias resolved)
    model: str | None  # model that answered
    provider: str | None
    stream: bool
    usage: Usage  # summed over every upstream call
    cost_usd: Decimal | None
    baseline_usd: Decimal | None
    savings: Mapping[str, Decimal | None] = field(hash=False)
    # "genai-prices" | "override" | "local" | "unpriced" | "no_usage" | "none" (no call made)
    price_source: str
    latency_ms: float
    status: int  # HTTP status returned to the app
    error: str | None = None  # error code/message (never contains secrets)
    detail: str | None = None  # free text: what levers did
    requested_alias: str | None = None  # the alias the app used, if any
    service_tier: str | None = None  # the tier the answering call was billed at
    calls: tuple[CallRecord, ...] = ()
    baseline_usage: Usage | None = None
    saved_usd: Decimal | None = None
    cost_estimated: bool = False  # some call's tokens were estimated (a cut stream)
    # Where it failed: "request" (refused before any call), "upstream" (failed before the
    # answer started), "mid_stream" (after HTTP 200: the app got an error event),
    # "client_left" (the client disconnected).  None: it did not fail.
    failure: str | None = None
    # The answer was cut by its length limit (finish reason "length"; the output lever
    # flags it).
    truncated: bool = False
    # The history lever's cut: the prompt tokens it removed and the cache reads it gave
    # up (kept turns whose cache a moved cut lost).  None: no cut (or, on rows booked
    # before the ledger had these columns and without the figures in their detail,
    # unknown).
    history_saved_tokens: int | None = None
    history_cache_reads_lost: int | None = None


COLUMNS = (
    "request_id",
    "ts",
    "tenant",
    "task",
    "dialect",
    "endpoint",
    "requested_model",
    "requested_alias",
    "model",
    "provider",
    "service_tier",
    "stream",
    "batch",
    "server_tools",
    "calls",
    "calls_listed",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "baseline_input_tokens",
    "baseline_output_tokens",
    "cost_pusd",
    "baseline_pusd",
    "saved_pusd",
    "cost_estimated",
    "price_source",
    "latency_ms",
    "status",
    "failure",
    "error",
    "detail",
    # migration 3: columns appended (a spooled row of an older width gets their defaults)
    "truncated",
    "history_saved_tokens",
    "history_cache_reads_lost",
)
ADDED_COLUMN_DEFAULTS = (0, None, None)
CALL_COLUMNS = (
    "request_id",
    "seq",
    "lever",
    "model",
    "provider",
    "service_tier",
    "batch",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "server_tools",
    "cost_pusd",
    "price_source",
    "estimated",
)
INSERT_ROW = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
INSERT_SAVING = "INSERT INTO savings (request_id, lever, saved_pusd) VALUES (?, ?, ?)"
INSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join('?' * len(CALL_COLUMNS))})"
)
SELECT_ROWS = f"SELECT {', '.join(COLUMNS)} FROM requests"
SELECT_CALLS = f"SELECT {', '.join(CALL_COLUMNS)} FROM calls"

RowParams = tuple[Any, ...]
SavingParams = tuple[str, str, int | None]
CallParams = tuple[Any, ...]


def widened(params: RowParams) -> RowParams:
    """``params`` of a row written by an older thrifty (fewer columns), with the columns
    added since at their defaults; a row of today's width is returned as it is."""
    missing = len(COLUMNS) - len(params)
    if missing <= 0 or missing > len(ADDED_COLUMN_DEFAULTS):
        return params
    return (*params, *ADDED_COLUMN_DEFAULTS[-missing:])


def _token_figure(value: int | None) -> int | None:
    return None if value is None else max(0, min(int(value), MAX_TOKEN_FIGURE))


def clip(text: str | None, limit: int = MAX_NAME) -> str | None:
    """``text`` cut to ``limit`` characters (marked with an ellipsis)."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _usage(u: Usage) -> tuple[int, ...]:
    return (
        u.input_tokens,
        u.output_tokens,
        u.cache_read_tokens,
        u.cache_write_5m_tokens,
        u.cache_write_1h_tokens,
        u.reasoning_tokens,
    )


def _call_params(request_id: str, seq: int, record: CallRecord) -> CallParams:
    call = record.call
    tools = _tools_json(call.server_tools)
    return (
        request_id,
        seq,
        call.lever,
        clip(call.model),
        clip(call.provider),
        clip(call.service_tier),
        1 if call.batch else 0,
        *_usage(call.usage),
        tools,
        optional_usd_to_pico(record.cost.usd),
        record.cost.source,
        1 if call.usage_estimated else 0,
    )


MAX_TOOL_KINDS = 16


def _tools_json(tools: tuple[tuple[str, int], ...]) -> str | None:
    """Server-tool uses as JSON, bounded: at most 16 kinds, names of at most 64 chars."""
    if not tools:
        return None
    bounded = {(clip(kind, 64) or ""): count for kind, count in tools[:MAX_TOOL_KINDS]}
    return orjson.dumps(bounded).decode()


def single_answer(row: LedgerRow) -> CallRecord | None:
    """The one call of ``row`` when it made exactly one and that call answered: its facts
    then live in the request's own row (no ``calls`` rows)."""
    if len(row.calls) == 1 and row.calls[0].call.lever is None:
        return row.calls[0]
    return None


def to_params(row: LedgerRow) -> tuple[RowParams, list[SavingParams], list[CallParams]]:
    """SQL parameters for ``row`` (money in pico-dollars).  Raises ``ValueError`` or
    ``TypeError`` for a value the ledger cannot store exactly."""
    savings = [
        (row.request_id, lever, optional_usd_to_pico(usd)) for lever, usd in row.savings.items()
    ]
    single = single_answer(row)
    calls: list[CallParams] = []
    if single is None:
        calls = [_call_params(row.request_id, i, c) for i, c in enumerate(row.calls)]
    batch = single is not None and single.call.batch
    tools = _tools_json(single.call.server_tools) if single is not None else None
    base = row.baseline_usage
    params = (
        row.request_id,
        float(row.ts),
        clip(row.tenant),
        clip(row.task),
        row.dialect,
        clip(row.endpoint),
        clip(row.requested_model),
        clip(row.requested_alias),
        clip(row.model),
        clip(row.provider),
        clip(row.service_tier),
        1 if row.stream else 0,
        1 if batch else 0,
        tools,
        len(row.calls),
        1 if calls else 0,
        *_usage(row.usage),
        None if base is None else base.input_tokens,
        None if base is None else base.output_tokens,
        optional_usd_to_pico(row.cost_usd),
        optional_usd_to_pico(row.baseline_usd),
        optional_usd_to_pico(row.saved_usd),
        1 if row.cost_estimated else 0,
        row.price_source,
        float(row.latency_ms),
        int(row.status),
        row.failure,
        clip(row.error, MAX_TEXT),
        clip(row.detail, MAX_TEXT),
        1 if row.truncated else 0,
        _token_figure(row.history_saved_tokens),
        _token_figure(row.history_cache_reads_lost),
    )
    return params, savings, calls


def call_from_db(record: Sequence[Any]) -> CallRecord:
    (
        _request_id,
        _seq,
        lever,
        model,
        provider,
        tier,
        batch,
        *tokens,
        tools,
        cost,
        source,
        estimated,
    ) = record
    return CallRecord(
        call=Call(
            model=model,
            provider=provider,
            usage=Usage(*tokens),
            usage_reported=source != "no_usage",
            usage_estimated=bool(estimated),
            service_tier=tier,
            batch=bool(batch),
            server_tools=tuple(sorted(orjson.loads(tools).items())) if tools else (),
            lever=lever,
        ),
        cost=Cost(usd=optional_pico_to_usd(cost), source=source, estimated=bool(estimated)),
    )


def from_db(
    record: Sequence[Any],
    savings: Mapping[str, Decimal | None],
    calls: Sequence[CallRecord] = (),
) -> LedgerRow:
    """Inverse of :func:`to_params` for one ``SELECT_ROWS`` record."""
    (
        request_id,
        ts,
        tenant,
        task,
        dialect,
        endpoint,
        requested_model,
        requested_alias,
        model,
        provider,
        service_tier,
        stream,
        batch,
        tools,
        count,
        listed,
        *tokens,
        base_in,
        base_out,
        cost,
        baseline,
        saved,
        estimated,
        price_source,
        latency_ms,
        status,
        failure,
        error,
        detail,
        truncated,
        history_saved,
        history_lost,
    ) = record
    usage = Usage(*tokens)
    if count == 1 and not listed:  # the answering call, kept in the request's own row
        single = Call(
            model=model,
            provider=provider,
            usage=usage,
            usage_reported=price_source != "no_usage",
            usage_estimated=bool(estimated),
            service_tier=service_tier,
            batch=bool(batch),
            server_tools=tuple(sorted(orjson.loads(tools).items())) if tools else (),
        )
        cost_of = Cost(
            usd=optional_pico_to_usd(cost), source=price_source, estimated=bool(estimated)
        )
        calls = (CallRecord(single, cost_of),)
    return LedgerRow(
        request_id=request_id,
        ts=ts,
        tenant=tenant,
        task=task,
        dialect=dialect,
        endpoint=endpoint,
        requested_model=requested_model,
        requested_alias=requested_alias,
        model=model,
        provider=provider,
        service_tier=service_tier,
        stream=bool(stream),
        usage=usage,
        baseline_usage=(
            None if base_in is None else Usage(input_tokens=base_in, output_tokens=base_out or 0)
        ),
        cost_usd=optional_pico_to_usd(cost),
        baseline_usd=optional_pico_to_usd(baseline),
        saved_usd=optional_pico_to_usd(saved),
        savings=savings,
        calls=tuple(calls),
        cost_estimated=bool(estimated),
        price_source=price_source,
        latency_ms=latency_ms,
        status=status,
        failure=failure,
        error=error,
        detail=detail,
        truncated=bool(truncated),
        history_saved_tokens=history_saved,
        history_cache_reads_lost=history_lost,
    )
