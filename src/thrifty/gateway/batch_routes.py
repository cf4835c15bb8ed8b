"""Deferred chat requests: ``X-Thrifty-Defer: 24h`` on ``POST /v1/chat/completions`` or
``POST /v1/messages`` queues the request for its provider's Batch API (half price) and
answers ``202 Accepted`` at once, with the result URL in ``Location`` and the body:

    {"id": "tb_...", "object": "thrifty.deferred", "status": "queued",
     "result_url": "/v1/thrifty/deferred/tb_..."}

``GET`` on the result URL answers ``202`` with the progress while the batch runs, then the
provider's answer (``200``, the body an interactive call would have had, in the request's
dialect) or its error (the provider's status).  Only the tenant that submitted a request
may read its result (another gets a 404, as for an unknown id).

The gateway follows deferred jobs when asked: each submission creates the jobs pending at
that moment (requests that arrive together share one), and each ``GET`` polls the
providers, at most once per ``[batch] poll_interval_s``.  ``thrifty batch status --wait``
(or the library poller) follows them unattended.
"""

from __future__ import annotations

import asyncio
import re
import time

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from thrifty.batch import Batches
from thrifty.batch.queue import ItemRow
from thrifty.errors import BadRequest, NotFound, PayloadTooLarge, ThriftyError
from thrifty.gateway.wire_errors import error_body, error_headers
from thrifty.runtime import Thrifty, tenant_of
from thrifty.types import Dialect

DEFER_HEADER = b"x-thrifty-defer"
RESULT_PATH = "/v1/thrifty/deferred/{submission_id}"
MAX_DEFER_HOURS = 24  # the providers' completion window
_DURATION = re.compile(r"^\s*(\d{1,3})\s*h\s*$", re.IGNORECASE)
JSON_TYPE = "application/json"


def deferred(scope: Scope) -> bool:
    """The request asks to be deferred (the header's value is checked on submission)."""
    return any(name == DEFER_HEADER for name, _ in scope["headers"])


def _json(obj: object, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type=JSON_TYPE, headers=headers)


def _error(dialect: Dialect, exc: ThriftyError) -> Response:
    return Response(
        orjson.dumps(error_body(dialect, exc)),
        status_code=exc.status,
        media_type=JSON_TYPE,
        headers=error_headers(exc),
    )


class DeferredRequests:
    """Submission (from the gateway's chat routes) and the result URL."""

    def __init__(self, thrifty: Thrifty) -> None:
        self._thrifty = thrifty
        gateway = thrifty.settings.gateway
        self._tenant_header = gateway.tenant_header.lower()
        self._task_header = gateway.task_header.lower()
        self._max_body = gateway.max_body_bytes
        self._interval = thrifty.settings.batch.poll_interval_s
        self._lock = asyncio.Lock()
        self._last_poll = 0.0

    def routes(self) -> list[Route]:
        return [Route(RESULT_PATH, self.result, methods=["GET"])]

    def _tenant(self, request: Request) -> str | None:
        headers = request.headers
        auth = headers.get("authorization", "")
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else headers.get("x-api-key")
        return tenant_of(headers.get(self._tenant_header), key or None)

    async def submit(self, scope: Scope, receive: Receive, send: Send, dialect: Dialect) -> None:
        request = Request(scope, receive)
        try:
            response = await self._submit(request, dialect)
        except ThriftyError as exc:
            response = _error(dialect, exc)
        await response(scope, receive, send)

    async def _submit(self, request: Request, dialect: Dialect) -> Response:
        hours = _DURATION.match(request.headers.get("x-thrifty-defer", ""))
        if hours is None or not 0 < int(hours.group(1)) <= MAX_DEFER_HOURS:
            raise BadRequest(f"X-Thrifty-Defer must be a duration of 1h to {MAX_DEFER_HOURS}h")
        raw = await request.body()
        if len(raw) > self._max_body:
            raise PayloadTooLarge(f"the body is over {self._max_body} bytes")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequest("the body is not valid JSON") from None
        field = "params" if dialect == "anthropic" else "body"
        line = orjson.dumps({"custom_id": "request", field: body})
        task = request.headers.get(self._task_header)
        await self._thrifty.start()
        async with self._lock, Batches.of(self._thrifty) as batches:
            submitted = await batches.submit([line], task=task, tenant=self._tenant(request))
            if submitted.handle is None:
                raise BadRequest(submitted.parsed.bad[0].reason)
            await batches.runner.step()  # create the jobs pending now
        url = RESULT_PATH.format(submission_id=submitted.handle.id)
        answer = {
            "id": submitted.handle.id,
            "object": "thrifty.deferred",
            "status": "queued",
            "result_url": url,
        }
        return _json(answer, 202, {"location": url})

    async def result(self, request: Request) -> Response:
        submission_id: str = request.path_params["submission_id"]
        dialect: Dialect = "anthropic" if "anthropic-version" in request.headers else "openai"
        await self._thrifty.start()
        async with self._lock, Batches.of(self._thrifty) as batches:
            try:
                item = self._item(batches, submission_id, self._tenant(request))
            except NotFound as exc:
                return _error(dialect, exc)
            if item.booked:
                return _answer(item)
            if time.monotonic() - self._last_poll >= self._interval:
                self._last_poll = time.monotonic()
                await batches.runner.step()
            item = self._item(batches, submission_id, self._tenant(request))
        if item.booked:
            return _answer(item)
        progress = {"id": submission_id, "object": "thrifty.deferred", "status": item.state}
        return _json(progress, 202, {"retry-after": str(max(1, round(self._interval)))})

    @staticmethod
    def _item(batches: Batches, submission_id: str, tenant: str | None) -> ItemRow:
        missing = NotFound(f"no deferred request {submission_id[:64]!r}")
        if batches.queue.submission(submission_id) is None:
            raise missing
        items = batches.queue.results(submission_id)
        if len(items) != 1 or items[0].tenant != tenant:
            raise missing  # another tenant's request is not there for this one
        return items[0]


def _answer(item: ItemRow) -> Response:
    headers = {"x-thrifty-batch": item.source or item.state}
    if item.state == "succeeded" and item.result is not None:
        return Response(item.result, status_code=200, media_type=JSON_TYPE, headers=headers)
    status = item.result_status or (499 if item.state == "cancelled" else 504)
    if item.result is not None:
        return Response(item.result, status_code=status, media_type=JSON_TYPE, headers=headers)
    body = {"error": {"type": "batch_" + item.state, "message": item.error or item.state}}
    return _json(body, status, headers)
