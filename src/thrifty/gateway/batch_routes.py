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

Apps that call the Batch APIs themselves keep working through the gateway
(:class:`BatchPassThrough`): OpenAI ``/v1/files`` and ``/v1/batches``, Anthropic
``/v1/messages/batches`` are forwarded to the provider, and the result lines they fetch
are booked at batch rates (:mod:`thrifty.batch.passthrough`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from thrifty.batch import Batches
from thrifty.batch.booking import Booker
from thrifty.batch.passthrough import book_results, rewrite_results_url
from thrifty.batch.queue import ItemRow
from thrifty.batch.service import api_for, queue_path, runtime_parts
from thrifty.errors import BadRequest, NotFound, PayloadTooLarge, ThriftyError
from thrifty.gateway.headers import tenant_from_headers
from thrifty.gateway.request_body import read_body
from thrifty.gateway.wire_errors import error_body, error_headers
from thrifty.pipeline import accountant_for
from thrifty.requests import check_label
from thrifty.runtime import Thrifty
from thrifty.types import Dialect

log = logging.getLogger(__name__)

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

    async def follow(self) -> None:
        """Runs while the gateway serves: every ``[batch] poll_interval_s``, one pass of the
        batch runner over the queue (jobs created, checked, collected, answers booked), so
        deferred requests finish with nobody polling.  A gateway whose queue file does not
        exist (nothing was ever deferred) opens nothing.  A failed pass is logged and tried
        again at the next interval."""
        path = queue_path(self._thrifty.settings)
        while True:
            await asyncio.sleep(self._interval)
            if not path.exists():
                continue
            try:
                async with self._lock, Batches.of(self._thrifty) as batches:
                    self._last_poll = time.monotonic()
                    await batches.runner.step()
            except Exception as exc:  # the next interval tries again
                log.warning("batch: following deferred requests failed: %s", exc)

    def routes(self) -> list[Route]:
        """The result URL, and the pass-through of apps' own Batch API calls."""
        passing = BatchPassThrough(self._thrifty, self._tenant)
        return [Route(RESULT_PATH, self.result, methods=["GET"]), *passing.routes()]

    def _tenant(self, request: Request) -> str | None:
        return tenant_from_headers(request.headers.raw, self._tenant_header)

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
        raw = await read_body(request, self._max_body)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequest("the body is not valid JSON") from None
        field = "params" if dialect == "anthropic" else "body"
        line = orjson.dumps({"custom_id": "request", field: body})
        task = request.headers.get(self._task_header)
        if task is not None:
            check_label(f"the {self._task_header} header", task)
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
        dialect: Dialect = "anthropic" if "anthropic-version" in request.headers else "openai"
        try:
            return await self._result(request, request.path_params["submission_id"])
        except ThriftyError as exc:
            return _error(dialect, exc)

    async def _result(self, request: Request, submission_id: str) -> Response:
        tenant = self._tenant(request)
        await self._thrifty.start()
        async with self._lock, Batches.of(self._thrifty) as batches:
            item = self._item(batches, submission_id, tenant)
            if item.booked:
                return _answer(item)
            if time.monotonic() - self._last_poll >= self._interval:
                self._last_poll = time.monotonic()
                await batches.runner.step()
            item = self._item(batches, submission_id, tenant)
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


PASS_THROUGH = [
    ("/v1/files", ["GET", "POST"]),
    ("/v1/files/{file_id}", ["GET", "DELETE"]),
    ("/v1/files/{file_id}/content", ["GET"]),
    ("/v1/batches", ["GET", "POST"]),
    ("/v1/batches/{batch_id}", ["GET"]),
    ("/v1/batches/{batch_id}/cancel", ["POST"]),
    ("/v1/messages/batches", ["GET", "POST"]),
    ("/v1/messages/batches/{batch_id}", ["GET", "DELETE"]),
    ("/v1/messages/batches/{batch_id}/results", ["GET"]),
    ("/v1/messages/batches/{batch_id}/cancel", ["POST"]),
]
MAX_UPLOAD_BYTES = 512 * 2**20  # OpenAI's largest file


class BatchPassThrough:
    """Forwards the Batch API calls of apps that make them themselves; books results."""

    def __init__(self, thrifty: Thrifty, tenant: Callable[[Request], str | None]) -> None:
        self._thrifty = thrifty
        self._tenant = tenant

    def routes(self) -> list[Route]:
        return [Route(path, self.forward, methods=methods) for path, methods in PASS_THROUGH]

    async def forward(self, request: Request) -> Response:
        path = request.url.path
        dialect: Dialect = "anthropic" if path.startswith("/v1/messages/") else "openai"
        thrifty = self._thrifty
        await thrifty.start()
        upstream = next(
            (u for u in thrifty.providers.upstreams if u.settings.dialect == dialect), None
        )
        if upstream is None:
            return _error(dialect, NotFound(f"no {dialect} provider is configured"))
        try:
            raw = await read_body(request, MAX_UPLOAD_BYTES)
        except PayloadTooLarge as exc:
            return _error(dialect, exc)
        api = api_for(
            upstream, thrifty.pool, environ=os.environ, simulator_url=thrifty.simulator_url
        )
        sent = (
            path[len("/v1") :]
            if dialect == "openai" and upstream.settings.base_url.endswith("/v1")
            else path
        )
        if request.url.query:
            sent += "?" + request.url.query
        kind = request.headers.get("content-type")
        try:
            status, media, body = await api.http.raw(request.method, sent, raw or None, kind)
        except ThriftyError as exc:
            return _error(dialect, exc)
        if status == 200 and dialect == "anthropic" and "results" not in path:
            body = rewrite_results_url(body, str(request.base_url).rstrip("/"))
        if status == 200 and request.method == "GET" and path.endswith(("/content", "/results")):
            booker = Booker(thrifty.ledger, accountant_for(runtime_parts(thrifty)))
            source = request.path_params.get("file_id") or request.path_params["batch_id"]
            await book_results(
                booker, dialect, upstream.name, str(source), body, tenant=self._tenant(request)
            )
        return Response(body, status_code=status, media_type=media)


def _answer(item: ItemRow) -> Response:
    headers = {"x-thrifty-batch": item.source or item.state}
    if item.state == "succeeded" and item.result is not None:
        return Response(item.result, status_code=200, media_type=JSON_TYPE, headers=headers)
    status = item.result_status or (499 if item.state == "cancelled" else 504)
    if item.result is not None:
        return Response(item.result, status_code=status, media_type=JSON_TYPE, headers=headers)
    body = {"error": {"type": "batch_" + item.state, "message": item.error or item.state}}
    return _json(body, status, headers)
