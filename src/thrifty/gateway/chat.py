"""The pipeline endpoints (chat in both dialects, and OpenAI's Responses API, embeddings and
legacy completions), as a plain ASGI handler: they are the gateway's hot path, so they skip
the framework's routing and middleware layers and talk to the server directly.

Each request: read the body (with a size limit), build a ChatRequest (the body parsed by
:mod:`thrifty.requests` or :mod:`thrifty.api_requests`), run the pipeline, write the answer
(:mod:`thrifty.gateway.answers`).  Rejections are booked in the ledger before answering.  A
stream is written one send per upstream read; if the client hangs up, the stream is
cancelled at once (the ledger books it as 499) so the upstream stops generating tokens
nobody will read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

import orjson
from starlette.types import Receive, Scope, Send

from thrifty.api_requests import api_request
from thrifty.config import GatewaySettings
from thrifty.errors import BadRequest, PayloadTooLarge, ThriftyError
from thrifty.gateway.answers import ClientWatch, send_error, stream_response
from thrifty.gateway.headers import (
    JSON_HEADERS,
    app_key,
    encode_headers,
    header_value,
    thrifty_headers,
)
from thrifty.gateway.response_owners import ResponseOwners, check_continuation, note_owner
from thrifty.requests import (
    CONTROL_HEADERS,
    MAX_MODEL_CHARS,
    check_control,
    check_label,
    valid_model_name,
)
from thrifty.runtime import Thrifty, tenant_of
from thrifty.types import Api, ChatRequest, ChatResponse, Dialect

# Importable from here as before (tests, other front-ends).
__all__ = [
    "ChatEndpoint",
    "header_value",
    "rejected_request",
    "send_error",
    "stream_response",
    "thrifty_headers",
]

log = logging.getLogger("thrifty.gateway")

Forwarded = tuple[tuple[str, str], ...]
# Feature flags an app may need the provider to see (beta features such as 1h prompt
# caching on Anthropic).  Auth headers are never forwarded: thrifty holds the keys.
FORWARDED_HEADERS = frozenset({b"anthropic-beta", b"openai-beta"})


class ChatEndpoint:
    """``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages`` (Anthropic), and
    OpenAI's other operations on the same path through the pipeline (``/v1/responses``,
    ``/v1/embeddings``, ``/v1/completions``: ``api``; parsed by
    :mod:`thrifty.api_requests`)."""

    def __init__(
        self,
        thrifty: Thrifty,
        owners: ResponseOwners | None = None,
        keys_on: Callable[[], bool] = lambda: False,
    ) -> None:
        self._thrifty = thrifty
        # Who owns each stored Responses answer (see thrifty.gateway.response_owners).
        self._owners = owners
        self._keys_on = keys_on
        settings: GatewaySettings = thrifty.settings.gateway
        self._limit = settings.max_body_bytes
        self._task_header = settings.task_header.lower().encode("latin-1")
        self._tenant_header = settings.tenant_header.lower().encode("latin-1")

    def _labels(
        self, scope: Scope
    ) -> tuple[str | None, str | None, int | None, Forwarded, dict[str, str], BadRequest | None]:
        """(task, tenant, declared content-length, headers to forward, lever controls, the
        error in a task, tenant or control header) from the request headers.  The tenant is
        the tenant header, else a short fingerprint of the app's key (never the key).  A
        task or tenant header that is not a short label is an error (and is not kept)."""
        task = tenant = key = None
        length: int | None = None
        forwarded: Forwarded = ()
        controls: dict[str, str] = {}
        error: BadRequest | None = None
        for name, value in scope["headers"]:
            if name in FORWARDED_HEADERS:
                forwarded = _add_header(forwarded, name.decode("latin-1"), value.decode("latin-1"))
            elif name in CONTROL_HEADERS:
                text = value.decode("latin-1")
                try:
                    check_control(name.decode("latin-1"), text)
                except BadRequest as exc:
                    error = error or exc
                    continue
                controls[CONTROL_HEADERS[name]] = text
            elif name == self._task_header or name == self._tenant_header:
                text = value.decode("latin-1")
                try:
                    check_label(f"the {name.decode('latin-1')} header", text)
                except BadRequest as exc:
                    error = error or exc
                    continue
                if name == self._task_header:
                    task = text
                else:
                    tenant = text
            elif name == b"content-length" and value.isdigit():
                length = int(value)
            elif name in (b"x-api-key", b"authorization"):
                key = app_key(value)
        return task, tenant_of(tenant, key), length, forwarded, controls, error

    async def _read_body(self, receive: Receive, declared: int | None) -> bytes:
        if declared is not None and declared > self._limit:
            raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {self._limit}")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("client disconnected while sending the request")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._limit:
                raise PayloadTooLarge(f"request body exceeds the limit of {self._limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, dialect: Dialect, api: Api = "chat"
    ) -> None:
        started = time.perf_counter()
        task, tenant, declared, forwarded, controls, label_error = self._labels(scope)
        body: object = None
        try:
            raw = await self._read_body(receive, declared)
            if label_error is not None:
                raise label_error
            if not raw:
                raise BadRequest("request body is empty; expected a JSON object")
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"request body is not valid JSON: {exc}") from None
            request = api_request(
                api, body, dialect=dialect, task=task, tenant=tenant, endpoint=scope["path"]
            )
            if api == "responses" and self._owners is not None:
                check_continuation(self._owners, request.body, tenant, keys_on=self._keys_on())
            if forwarded or controls:
                request = dataclasses.replace(
                    request, upstream_headers=forwarded, metadata=controls
                )
        except ThriftyError as exc:
            stub = rejected_request(dialect, body, task, tenant, scope["path"], api)
            await self._thrifty.reject(stub, exc, started)
            await send_error(send, dialect, exc, stub.request_id)
            return
        await self._answer(request, scope, receive, send)

    async def _answer(
        self, request: ChatRequest, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the call and answer.  Until the pipeline returns (a whole answer, or a
        stream's response headers), ``receive()`` is watched: a client that leaves cancels
        the call (the upstream request is closed) and the ledger stage books it as 499.  The
        same watch then follows a stream (:func:`stream_response`)."""
        this_task = asyncio.current_task()
        watch = ClientWatch(receive, scope)
        response: ChatResponse | None = None
        try:
            try:
                response = await self._thrifty.handle(request, pass_raw=True)
            finally:
                if response is not None and response.stream is not None:
                    watch.armed = False  # the stream arms it again
                else:
                    watch.close()
        except ThriftyError as exc:  # already booked by the ledger stage
            await send_error(send, request.dialect, exc, request.request_id)
            return
        except asyncio.CancelledError:
            if not watch.gone or this_task is None:
                raise
            this_task.uncancel()  # our own cancellation: the ledger stage booked the 499
            log.info("request %s: the client left before the answer", request.request_id)
            return
        except Exception:  # a bug: booked by the ledger stage; answer in the app's dialect
            await _send_internal_error(send, request)
            return
        if self._owners is not None:
            note_owner(self._owners, request, response)
        if watch.gone:  # it left just as the answer arrived: the cancel is still pending
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                if this_task is not None:
                    this_task.uncancel()
            if response.stream is None:
                return  # booked as answered: the upstream's work is done and paid
        if response.stream is None:
            raw = response.raw_body
            payload = raw if raw is not None else orjson.dumps(response.body)
            headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
            headers += encode_headers(thrifty_headers(request, response))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        await stream_response(request, response, watch, send)


async def _send_internal_error(send: Send, request: ChatRequest) -> None:
    log.exception("internal error on request %s", request.request_id)
    error = ThriftyError("internal error; see the gateway log")
    await send_error(send, request.dialect, error, request.request_id)


def _add_header(headers: Forwarded, name: str, value: str) -> Forwarded:
    """Add a header to forward; a repeated one is joined with ", " (HTTP list syntax)."""
    for index, (existing, old) in enumerate(headers):
        if existing == name:
            return (*headers[:index], (name, f"{old}, {value}"), *headers[index + 1 :])
    return (*headers, (name, value))


def rejected_request(
    dialect: Dialect,
    body: object,
    task: str | None,
    tenant: str | None,
    path: str,
    api: Api = "chat",
) -> ChatRequest:
    """A stand-in request for the ledger row of a request that never became one."""
    model = body.get("model") if isinstance(body, dict) else None
    name = model if isinstance(model, str) else ""
    if name and not valid_model_name(name):  # kept short and printable in the ledger
        name = name[:MAX_MODEL_CHARS].encode("unicode_escape").decode("ascii")[:MAX_MODEL_CHARS]
    return ChatRequest(
        dialect=dialect,
        body={},
        model=name,
        requested_model=name,
        api=api,
        task=task,
        tenant=tenant,
        endpoint=path,
    )
