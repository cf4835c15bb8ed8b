"""The outermost stage: prices every outcome (through the :class:`Accountant`) and writes
one ledger row for it.

A non-stream answer is booked before it is returned.  A stream is booked when its final
batch arrives, before that batch is handed on (so the app's answer is never ahead of its
row), or, if it ends any other way (an upstream cut, a client that left), when the
iterator is closed: the shared stream contract, ``thrifty.streams.observe``.
``LedgerStore.record`` either commits before its first suspension or
has queued the row for its writer thread, so a cancelled request cannot withdraw its row.

The row's ``status`` is the HTTP status the app got: a stream that fails after its first
event was sent is a 200 whose ``failure`` is ``mid_stream``.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from thrifty.errors import ThriftyError, UpstreamError
from thrifty.ledger.accounting import NO_USAGE, Accountant, Settlement
from thrifty.ledger.figures import StepFigures
from thrifty.ledger.row import CallRecord, LedgerRow
from thrifty.streams import observe
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Usage, lever_calls_of

if TYPE_CHECKING:
    from thrifty.pipeline import Parts
    from thrifty.store.protocols import LedgerWriter

__all__ = ["Accountant", "build", "error_text", "ledger_stage", "record_rejection"]


def _request_fields(
    request: ChatRequest, started: float, *, status: int, error: str | None, failure: str | None
) -> dict[str, Any]:
    """The fields every row takes from the request and the outcome."""
    return {
        "request_id": request.request_id,
        "ts": request.received_at,
        "tenant": request.tenant,
        "task": request.task,
        "dialect": request.dialect,
        "endpoint": request.endpoint,
        "stream": request.stream,
        "latency_ms": (time.perf_counter() - started) * 1000.0,
        "status": status,
        "error": error,
        "failure": failure,
    }


def _row(
    request: ChatRequest,
    response: ChatResponse,
    settled: Settlement,
    started: float,
    *,
    status: int,
    error: str | None,
    failure: str | None,
) -> LedgerRow:
    calls = tuple(CallRecord(c, k) for c, k in settled.calls)
    usage = calls[0].call.usage if len(calls) == 1 else Usage()
    if len(calls) > 1:
        for record in calls:
            usage = usage + record.call.usage
    asked = response.served or request
    figures = StepFigures.of(response.steps, (record.call for record in calls))
    return LedgerRow(
        **_request_fields(request, started, status=status, error=error, failure=failure),
        requested_model=asked.requested_model,
        requested_alias=asked.requested_alias,
        model=response.model,
        provider=response.provider,
        service_tier=response.service_tier,
        usage=usage,
        calls=calls,
        cost_usd=settled.cost.usd,
        baseline_usd=settled.baseline.usd,
        baseline_usage=settled.baseline_usage,
        savings=settled.savings,
        saved_usd=settled.saved,
        cost_estimated=settled.estimated,
        price_source=settled.cost.source,
        detail="; ".join(s.detail for s in response.steps) or None,
        truncated=response.truncated,  # the upstream's word, whatever levers are on
        history_saved_tokens=figures.history_saved_tokens,
        history_cache_reads_lost=figures.history_cache_reads_lost,
    )


def _failed_row(
    request: ChatRequest,
    exc: BaseException,
    started: float,
    failure: str | None = None,
    accountant: Accountant | None = None,
) -> LedgerRow:
    """The row of a request that raised before it had a response.  Calls levers paid for
    before the failure (attached to the exception) are in it, priced: each lever's share
    is minus what its calls cost."""
    reached = bool(getattr(exc, "reached_upstream", False))
    left = isinstance(exc, (asyncio.CancelledError, GeneratorExit))
    paid = lever_calls_of(exc) if accountant is not None else []
    refused = not paid and _refused_locally(exc)
    failure = (
        failure
        or _named_failure(exc)
        or ("client_left" if left else "request" if refused else "upstream")
    )
    fields = _request_fields(
        request, started, status=_failure_status(exc), error=_failure_text(exc), failure=failure
    )
    calls = tuple(CallRecord(c, accountant.price_call(c)) for c in paid if accountant)
    # A call that reached the provider may have been billed: unknown, never $0.
    cost: Decimal | None = None if reached or left else Decimal(0)
    savings: dict[str, Decimal | None] = {}
    usage = Usage()
    for record in calls:
        usage = usage + record.call.usage
        price = record.cost.usd
        cost = None if cost is None or price is None else cost + price
        lever = record.call.lever
        if lever is not None:
            share = savings.get(lever, Decimal(0))
            savings[lever] = None if share is None or price is None else share - price
    last = calls[-1].cost.source if calls else "none"
    source = NO_USAGE.source if cost is None else last
    figures = StepFigures.of((), paid)
    return LedgerRow(
        **fields,
        requested_model=request.requested_model,
        requested_alias=request.requested_alias,
        model=request.model,
        provider=getattr(exc, "provider", None) or None,
        usage=usage,
        calls=calls,
        cost_usd=cost,
        baseline_usd=None,
        savings=savings,
        saved_usd=None,
        price_source=source,
        history_saved_tokens=figures.history_saved_tokens,
        history_cache_reads_lost=figures.history_cache_reads_lost,
    )


def _abort_outcome(exc: BaseException | None, handed_on: bool) -> tuple[int, str, str]:
    """(status the app got, failure, error) for a stream that did not complete."""
    if exc is None:  # the upstream ran out without its final event, and said nothing
        text = "stream_interrupted: the stream ended before its final event"
        return (200, "mid_stream", text) if handed_on else (502, "upstream", text)
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        return 499, "client_left", "client_disconnected: stream closed before the end"
    named = _named_failure(exc)
    if handed_on:  # the app got HTTP 200 and an error event
        return 200, named or "mid_stream", _failure_text(exc)
    return _failure_status(exc), named or "upstream", _failure_text(exc)


def _refused_locally(exc: BaseException) -> bool:
    """Whether thrifty itself refused the request before any call (a model no provider
    serves, a field that cannot be translated for the target's dialect): a client error
    that is not the provider's answer."""
    return (
        isinstance(exc, ThriftyError)
        and not isinstance(exc, UpstreamError)
        and not exc.reached_upstream
        and 400 <= exc.status < 500
    )


def _named_failure(exc: BaseException) -> str | None:
    """The failure an error names itself (a request superseded, an idempotency key reused
    with another body), else ``None``."""
    failure = getattr(exc, "failure", None)
    return failure if isinstance(failure, str) else None


def error_text(exc: BaseException) -> str:
    if isinstance(exc, ThriftyError):
        return f"{exc.code}: {exc.message}"
    return f"internal_error: {type(exc).__name__}"


def _failure_status(exc: BaseException) -> int:
    if isinstance(exc, ThriftyError):
        return exc.status
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        return 499  # the client went away
    return 500


def _failure_text(exc: BaseException) -> str:
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        return "client_disconnected"
    return error_text(exc)


def ledger_stage(store: LedgerWriter, accountant: Accountant) -> Stage:
    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            started = time.perf_counter()
            try:
                response = await inner(request)
            except BaseException as exc:
                await store.record(_failed_row(request, exc, started, accountant=accountant))
                raise
            if response.stream is None:
                settled = accountant.settle(request, response)
                row = _row(
                    request, response, settled, started, status=200, error=None, failure=None
                )
                await store.record(row)
                return response
            _book_when_done(request, response, started)
            return response

        def _book_when_done(request: ChatRequest, response: ChatResponse, started: float) -> None:
            async def on_complete() -> None:
                # The batch that ends the stream: booked before the app gets its answer,
                # without waiting for the upstream's EOF.
                settled = accountant.settle(request, response)
                row = _row(
                    request,
                    response,
                    settled,
                    started,
                    status=200,
                    error=None,
                    failure=response.failure,
                )
                await store.record(row)

            async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
                status, failure, error = _abort_outcome(exc, handed_on)
                settled = accountant.settle(request, response)
                row = _row(
                    request, response, settled, started, status=status, error=error, failure=failure
                )
                await store.record(row)

            observe(response, on_complete=on_complete, on_abort=on_abort)

        return handle

    return wrap


async def record_rejection(
    store: LedgerWriter, request: ChatRequest, exc: ThriftyError, started: float
) -> None:
    """Book a request refused before it reached the pipeline (bad JSON, ...)."""
    await store.record(_failed_row(request, exc, started, failure="request"))


async def build(parts: Parts) -> Stage:
    """The ledger stage for the pipeline (always on)."""
    from thrifty.pipeline import accountant_for

    return ledger_stage(parts.ledger, accountant_for(parts))
