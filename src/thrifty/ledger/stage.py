"""The outermost stage: prices every outcome and writes one ledger row for it.

Cost = the actual usage priced at the model that served the call, on the provider that
served it (the model name the upstream reports, e.g. a dated snapshot, falling back to the
name thrifty sent).  Baseline = the same usage priced at the model the app asked for, with
no lever; with no lever that changed the model, baseline is the cost.  The difference is
split among the steps: a step that stated ``saved_usd`` keeps it; the first step that did
not (routing, whose saving is only known when usage is final) gets the remainder.  A call
whose upstream reported no usage is booked as unpriced, never as $0.

Streams are recorded when the iterator finishes, fails or is closed early (client gone),
so nothing is lost on a disconnect.  ``LedgerStore.record`` either commits before its first
suspension or has queued the row for its writer thread, so a cancelled request cannot
withdraw its row.
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


UpstreamFacts = tuple[str | None, bool]  # (genai-prices provider id, local)
NO_USAGE = Cost(usd=None, source="no_usage")


class Accountant:
    """Prices responses: actual cost, baseline, and per-lever savings."""

    def __init__(
        self,
        prices: PriceBook,
        upstream_of: Callable[[str], UpstreamFacts | None],
        upstream_named: Callable[[str], UpstreamFacts | None],
    ) -> None:
        self._prices = prices
        self._upstream_of = upstream_of  # model name -> the provider that would serve it
        self._upstream_named = upstream_named  # provider name -> its facts

    def _price(self, usage: Usage, model: str, facts: UpstreamFacts | None) -> Cost:
        provider, local = facts if facts is not None else (None, False)
        return self._prices.cost(usage, model, provider=provider, local=local)

    def actual_cost(self, served: ChatRequest, response: ChatResponse) -> Cost:
        if not response.usage_reported:
            return NO_USAGE
        facts = self._upstream_named(response.provider) or self._upstream_of(served.model)
        cost = self._price(response.usage, response.model, facts)
        if not cost.priced and response.model != served.model:
            cost = self._price(response.usage, served.model, facts)
        return cost

    def settle(self, request: ChatRequest, response: ChatResponse) -> dict[str, Decimal]:
        """Set ``response.cost``/``baseline`` and the steps' savings; return lever -> saved.
        ``request`` is the app's; ``response.served`` (if set) is what the provider got."""
        served = response.served or request
        response.cost = self.actual_cost(served, response)
        if served.model == served.requested_model or not response.usage_reported:
            response.baseline = response.cost
        else:
            model = served.requested_model
            response.baseline = self._price(response.usage, model, self._upstream_of(model))
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


def ledger_stage(store: LedgerStore, accountant: Accountant) -> Stage:
    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            started = time.perf_counter()
            try:
                response = await inner(request)
            except BaseException as exc:
                row = _row(
                    request,
                    None,
                    {},
                    started,
                    status=_failure_status(exc),
                    error=_failure_text(exc),
                )
                await store.record(row)
                raise
            if response.stream is None:
                savings = accountant.settle(request, response)
                await store.record(
                    _row(request, response, savings, started, status=200, error=None)
                )
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
            booked = False
            try:
                async for batch in events:
                    if not booked and response.stream_complete:
                        # The batch that ends the stream: book the row before the app
                        # gets its answer, without waiting for the upstream's EOF.
                        booked = True
                        savings = accountant.settle(request, response)
                        row = _row(request, response, savings, started, status=200, error=None)
                        await store.record(row)
                    yield batch
            except BaseException as exc:
                if booked:
                    raise  # booked already; what failed came after the end (EOF, close)
                status, error = _failure_status(exc), _failure_text(exc)
                raise
            finally:
                try:
                    if not booked:
                        if error is None and not response.stream_complete:
                            status = 499
                            error = "client_disconnected: stream closed before the end"
                        savings = accountant.settle(request, response)
                        await store.record(
                            _row(request, response, savings, started, status=status, error=error)
                        )
                finally:
                    close = getattr(events, "aclose", None)
                    if close is not None:
                        await close()

        return handle

    return wrap


async def record_rejection(
    store: LedgerStore, request: ChatRequest, exc: ThriftyError, started: float
) -> None:
    """Book a request the gateway refused before it reached the pipeline (bad JSON, ...)."""
    await store.record(_row(request, None, {}, started, status=exc.status, error=error_text(exc)))
