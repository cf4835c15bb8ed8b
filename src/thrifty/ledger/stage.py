"""The outermost stage: prices every outcome and writes one ledger row for it.

Cost = the actual usage priced at the model that served the call.  Baseline = the same
usage priced at the model the app asked for, with no lever.  The difference is split
among the steps: a step that stated ``saved_usd`` keeps it; the first step that did not
(routing, whose saving is only known when usage is final) gets the remainder.

Streams are recorded when the iterator finishes, fails or is closed early (client gone),
so nothing is lost on a disconnect; the write is shielded from cancellation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal

from thrifty.errors import ThriftyError
from thrifty.ledger import LedgerRow, LedgerStore
from thrifty.pricing import PriceBook
from thrifty.types import ChatRequest, ChatResponse, Cost, Handler, Stage, StreamEvent, Usage

ZERO = Decimal(0)


class Accountant:
    """Prices responses: actual cost, baseline, and per-lever savings."""

    def __init__(
        self, prices: PriceBook, upstream_of: Callable[[str], tuple[str | None, bool] | None]
    ) -> None:
        self._prices = prices
        self._upstream_of = upstream_of  # model -> (price provider, local) or None

    def price(self, usage: Usage, model: str) -> Cost:
        upstream = self._upstream_of(model)
        provider, local = upstream if upstream is not None else (None, False)
        return self._prices.cost(usage, model, provider=provider, local=local)

    def settle(self, request: ChatRequest, response: ChatResponse) -> dict[str, Decimal]:
        """Set ``response.cost``/``baseline`` and the steps' savings; return lever -> saved."""
        response.cost = self.price(response.usage, response.model)
        response.baseline = (
            response.cost
            if request.requested_model == response.model
            else self.price(response.usage, request.requested_model)
        )
        savings: dict[str, Decimal] = {}
        actual, baseline = response.cost.usd, response.baseline.usd
        if actual is None or baseline is None:
            return savings
        remainder = baseline - actual
        for step in response.steps:
            if step.saved_usd is not None:
                remainder -= step.saved_usd
        for step in response.steps:
            if step.saved_usd is None:
                step.saved_usd, remainder = remainder, ZERO
            savings[step.lever] = savings.get(step.lever, ZERO) + step.saved_usd
        return savings


def _row(
    request: ChatRequest,
    response: ChatResponse | None,
    savings: dict[str, Decimal],
    started: float,
    *,
    status: int,
    error: str | None,
) -> LedgerRow:
    cost = response.cost if response is not None else None
    baseline = response.baseline if response is not None else None
    detail = "; ".join(s.detail for s in response.steps) if response is not None else None
    return LedgerRow(
        request_id=request.request_id,
        ts=request.received_at,
        tenant=request.tenant,
        task=request.task,
        dialect=request.dialect,
        endpoint=request.endpoint,
        requested_model=request.requested_model,
        model=response.model if response is not None else request.model,
        provider=response.provider if response is not None else None,
        stream=request.stream,
        usage=response.usage if response is not None else Usage(),
        cost_usd=cost.usd if cost is not None else (ZERO if response is None else None),
        baseline_usd=baseline.usd if baseline is not None else None,
        savings=savings,
        price_source=cost.source if cost is not None else "none",
        latency_ms=(time.perf_counter() - started) * 1000.0,
        status=status,
        error=error,
        detail=detail or None,
    )


def error_text(exc: BaseException) -> str:
    if isinstance(exc, ThriftyError):
        return f"{exc.code}: {exc.message}"
    return f"internal_error: {type(exc).__name__}"


def ledger_stage(store: LedgerStore, accountant: Accountant) -> Stage:
    pending: set[asyncio.Task[None]] = set()

    def start_write(row: LedgerRow) -> asyncio.Task[None]:
        # A task of its own: a cancelled request (client gone) must still land in the ledger.
        task = asyncio.ensure_future(store.record(row))
        pending.add(task)
        task.add_done_callback(pending.discard)
        return task

    async def write(row: LedgerRow) -> None:
        await asyncio.shield(start_write(row))

    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            started = time.perf_counter()
            try:
                response = await inner(request)
            except BaseException as exc:
                status = exc.status if isinstance(exc, ThriftyError) else 500
                await write(_row(request, None, {}, started, status=status, error=error_text(exc)))
                raise
            if response.stream is None:
                savings = accountant.settle(request, response)
                await write(_row(request, response, savings, started, status=200, error=None))
                return response
            response.stream = _recorded(request, response, response.stream, started)
            return response

        async def _recorded(
            request: ChatRequest,
            response: ChatResponse,
            events: AsyncIterator[Sequence[StreamEvent]],
            started: float,
        ) -> AsyncIterator[Sequence[StreamEvent]]:
            error: str | None = None
            status = 200
            written: asyncio.Task[None] | None = None
            try:
                async for batch in events:
                    if written is None and response.stream_complete:
                        # The batch that ends the stream: book the row before the app
                        # gets its answer, without waiting for the upstream's EOF.
                        savings = accountant.settle(request, response)
                        row = _row(request, response, savings, started, status=200, error=None)
                        written = start_write(row)
                        await asyncio.shield(written)
                    yield batch
            except BaseException as exc:
                if written is not None:
                    raise  # booked already; what failed came after the end (EOF, close)
                status = exc.status if isinstance(exc, ThriftyError) else 499
                error = error_text(exc) if isinstance(exc, Exception) else "client_disconnected"
                raise
            finally:
                if written is None:
                    if error is None and not response.stream_complete:
                        status, error = 499, "client_disconnected: stream closed before the end"
                    savings = accountant.settle(request, response)
                    written = start_write(
                        _row(request, response, savings, started, status=status, error=error)
                    )
                close = getattr(events, "aclose", None)
                try:
                    if close is not None:
                        await close()
                finally:
                    await asyncio.shield(written)

        return handle

    return wrap


async def record_rejection(
    store: LedgerStore, request: ChatRequest, exc: ThriftyError, started: float
) -> None:
    """Book a request the gateway refused before it reached the pipeline (bad JSON, ...)."""
    await store.record(_row(request, None, {}, started, status=exc.status, error=error_text(exc)))
