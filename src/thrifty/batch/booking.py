"""One ledger row per item, once it is final, through the same ledger stage as every call.

* answered by its batch job: the answer's usage at batch rates (``Call(batch=True)``); the
  Accountant books the interactive price as the baseline and the difference as the
  ``batch`` lever's saving (docs/ledger.md);
* answered from the exact cache, or by an identical item of the same submission: no call,
  ``Step(avoided=usage)``, booked to ``cache`` or ``memo``;
* failed, expired or cancelled: a failed row at $0 (the providers bill only answers).

A row's request id is ``batch-<submission>-<item>``: the ledger refuses a second row with
the same id, so an item booked before a crash and booked again after it stays one row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

import orjson

from thrifty.batch.queue import ItemRow
from thrifty.errors import UpstreamError
from thrifty.ledger.accounting import Accountant
from thrifty.ledger.stage import ledger_stage
from thrifty.ledger.store import LedgerWriteError
from thrifty.providers.finish import truncated_answer
from thrifty.providers.usage import service_tier, usage_from_anthropic, usage_from_openai
from thrifty.store.protocols import LedgerWriter
from thrifty.types import ChatRequest, ChatResponse, Dialect, Handler, Lever, Step, Usage

PLAIN_TIERS = frozenset({"batch", "standard", "default"})  # priced by the batch flag alone


def request_of(item: ItemRow) -> ChatRequest:
    """The item's request as the ledger books it."""
    dialect: Dialect = "anthropic" if item.dialect == "anthropic" else "openai"
    return ChatRequest(
        dialect=dialect,
        body=orjson.loads(item.body),
        model=item.model,
        requested_model=item.model,
        task=item.task,
        tenant=item.tenant,
        endpoint="batch",
        request_id=f"batch-{item.submission_id}-{item.id}",
        received_at=item.created_at,
    )


def usage_of(dialect: str, body: Mapping[str, object]) -> Usage | None:
    usage = body.get("usage")
    if not isinstance(usage, Mapping):
        return None
    return usage_from_anthropic(usage) if dialect == "anthropic" else usage_from_openai(usage)


def tier_of(dialect: str, body: Mapping[str, object]) -> str | None:
    usage = body.get("usage")
    raw = (
        usage.get("service_tier") if dialect == "anthropic" and isinstance(usage, Mapping) else None
    )
    tier = service_tier(raw if dialect == "anthropic" else body.get("service_tier"))
    return None if tier is None or tier in PLAIN_TIERS else tier


def response_of(item: ItemRow, request: ChatRequest) -> ChatResponse:
    """The answer of a succeeded item, with the facts its price depends on."""
    assert item.result is not None
    body = orjson.loads(item.result)
    usage = usage_of(item.dialect, body)
    model = body.get("model") if isinstance(body.get("model"), str) else item.model
    response = ChatResponse(
        dialect=request.dialect,
        model=model,
        provider=item.provider,
        usage=usage or Usage(),
        usage_reported=usage is not None,
        body=body,
        truncated=truncated_answer(request.dialect, "chat", body),
    )
    if item.source == "batch":
        response.served = request
        response.batch = True
        response.service_tier = tier_of(item.dialect, body)
        response.steps.append(Step("batch", f"batch: job {item.job_id}"))
    else:
        lever: Lever = "cache" if item.source == "cache" else "memo"
        detail = f"{lever}: answered without a call"
        response.provider = "cache" if item.source == "cache" else "batch-duplicate"
        response.steps.append(Step(lever, detail, avoided=usage))
    return response


class Booker:
    """Books final items into the ledger."""

    def __init__(self, ledger: LedgerWriter, accountant: Accountant) -> None:
        self._stage = ledger_stage(ledger, accountant)

    async def book(self, item: ItemRow) -> None:
        request = request_of(item)
        if item.state == "succeeded":
            await self.book_answer(request, response_of(item, request))
            return
        failure = UpstreamError(
            f"batch item {item.state}: {item.error or 'no answer'}",
            status=item.result_status or (499 if item.state == "cancelled" else 504),
            provider=item.provider,
        )

        async def fail(_: ChatRequest) -> ChatResponse:
            raise failure

        await self._run(request, fail)

    async def book_answer(self, request: ChatRequest, response: ChatResponse) -> None:
        """Book ``response`` as the answer to ``request`` (once per request id)."""

        async def answer(_: ChatRequest) -> ChatResponse:
            return response

        await self._run(request, answer)

    async def _run(self, request: ChatRequest, inner: Handler) -> None:
        try:
            await self._stage(inner)(request)
        except UpstreamError:
            pass  # booked as a failed row
        except LedgerWriteError as exc:
            if not _already_booked(exc):
                raise


def _already_booked(exc: LedgerWriteError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, sqlite3.IntegrityError) and "request_id" in str(cause)
