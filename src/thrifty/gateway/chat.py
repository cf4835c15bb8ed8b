"""The chat endpoints, as a plain ASGI handler: they are the gateway's hot path, so they skip
the framework's routing and middleware layers and talk to the server directly.

Each request: read the body (with a size limit), build a ChatRequest, run the pipeline,
write the answer.  Rejections are booked in the ledger before answering.  A stream is
written one send per upstream read; if the client hangs up, the stream is cancelled at once
(the ledger books it as 499) so the upstream stops generating tokens nobody will read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import string
import time
from collections.abc import Sequence
from decimal import Decimal
from urllib.parse import quote

import orjson
from starlette.types import Message, Receive, Scope, Send

from thrifty.config import GatewaySettings
from thrifty.errors import BadRequest, PayloadTooLarge, ThriftyError
from thrifty.gateway.wire_errors import error_body, error_event, error_headers
from thrifty.ledger.money import usd_text
from thrifty.requests import (
    CONTROL_HEADERS,
    MAX_MODEL_CHARS,
    chat_request,
    check_control,
    check_label,
    valid_model_name,
)
from thrifty.runtime import Thrifty, tenant_of
from thrifty.streams import observed
from thrifty.types import ChatRequest, ChatResponse, Dialect, StreamEvent

log = logging.getLogger("thrifty.gateway")

Headers = list[tuple[bytes, bytes]]
Forwarded = tuple[tuple[str, str], ...]
# Feature flags an app may need the provider to see (beta features such as 1h prompt
# caching on Anthropic).  Auth headers are never forwarded: thrifty holds the keys.
FORWARDED_HEADERS = frozenset({b"anthropic-beta", b"openai-beta"})
JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def _usd(value: Decimal | None) -> str:
    return "unpriced" if value is None else usd_text(value)


# Where each SDK looks for the provider's request id (`response._request_id`).
REQUEST_ID_HEADER: dict[Dialect, str] = {"openai": "x-request-id", "anthropic": "request-id"}


def thrifty_headers(request: ChatRequest, response: ChatResponse) -> dict[str, str]:
    """What thrifty did, as ``x-thrifty-*`` headers."""
    headers = {
        "x-thrifty-request-id": request.request_id,
        "x-thrifty-model": response.model,
        "x-thrifty-provider": response.provider,
        "x-thrifty-levers": ",".join(s.lever for s in response.steps) or "none",
    }
    for name, value in _money(response):
        headers[f"x-thrifty-{name}"] = value
    for name, value in response.headers.items():
        headers[f"x-thrifty-{name}"] = value
    if response.upstream_request_id:
        headers[REQUEST_ID_HEADER[request.dialect]] = response.upstream_request_id
    return headers


def _money(response: ChatResponse) -> list[tuple[str, str]]:
    """(name, text) for cost, baseline and saved, as far as they are known yet."""
    money: list[tuple[str, str]] = []
    if response.cost is not None:
        money.append(("cost-usd", _usd(response.cost.usd)))
    if response.baseline is not None:
        money.append(("baseline-usd", _usd(response.baseline.usd)))
    if response.cost is not None and response.baseline is not None:
        money.append(("saved-usd", _usd(response.saved)))
    if response.cost is not None and response.cost.estimated:
        money.append(("cost-estimated", "true"))  # from token counts thrifty estimated
    return money


# Kept as they are in a header value that is not printable ASCII; everything else (and "%")
# is percent-encoded as UTF-8, so a model name an upstream reports as "gpt-é" is sent as
# "gpt-%C3%A9" and a CR/LF can never split a header.
_HEADER_SAFE = "".join(c for c in string.printable if c not in "%\t\n\r\x0b\x0c")


def header_value(value: str) -> bytes:
    """``value`` as a header value that any client can read: printable ASCII as is, else
    percent-encoded."""
    if value.isascii() and value.isprintable():
        return value.encode("ascii")
    return quote(value, safe=_HEADER_SAFE).encode("ascii")


def _encode(headers: dict[str, str]) -> Headers:
    return [(k.encode("ascii"), header_value(v)) for k, v in headers.items()]


class ChatEndpoint:
    """``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages`` (Anthropic)."""

    def __init__(self, thrifty: Thrifty) -> None:
        self._thrifty = thrifty
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
                scheme, _, token = value.partition(b" ")
                key = token.strip() if scheme.lower() == b"bearer" else value.strip()
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send, dialect: Dialect) -> None:
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
            request = chat_request(dialect, body, task=task, tenant=tenant, endpoint=scope["path"])
            if forwarded or controls:
                request = dataclasses.replace(
                    request, upstream_headers=forwarded, metadata=controls
                )
        except ThriftyError as exc:
            stub = rejected_request(dialect, body, task, tenant, scope["path"])
            await self._thrifty.reject(stub, exc, started)
            await send_error(send, dialect, exc, stub.request_id)
            return
        await self._answer(request, receive, send)

    async def _answer(self, request: ChatRequest, receive: Receive, send: Send) -> None:
        """Run the call and answer.  Until the pipeline returns (a whole answer, or a
        stream's response headers), ``receive()`` is watched: a client that leaves cancels
        the call (the upstream request is closed) and the ledger stage books it as 499.  A
        stream then watches the client itself (:func:`stream_response`)."""
        this_task = asyncio.current_task()
        running = True
        client_gone = False

        def on_disconnect(waiter: asyncio.Future[Message]) -> None:
            nonlocal client_gone
            if (
                running
                and this_task is not None
                and not waiter.cancelled()
                and waiter.exception() is None
                and waiter.result()["type"] == "http.disconnect"
            ):
                client_gone = True
                this_task.cancel()

        watch: asyncio.Future[Message] = asyncio.ensure_future(receive())
        watch.add_done_callback(on_disconnect)
        try:
            try:
                response = await self._thrifty.handle(request)
            finally:
                running = False
                watch.cancel()
        except ThriftyError as exc:  # already booked by the ledger stage
            await send_error(send, request.dialect, exc, request.request_id)
            return
        except asyncio.CancelledError:
            if not client_gone or this_task is None:
                raise
            this_task.uncancel()  # our own cancellation: the ledger stage booked the 499
            log.info("request %s: the client left before the answer", request.request_id)
            return
        except Exception:  # a bug: booked by the ledger stage; answer in the app's dialect
            await _send_internal_error(send, request)
            return
        if client_gone:  # it left just as the answer arrived: the cancel is still pending
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                if this_task is not None:
                    this_task.uncancel()
            if response.stream is None:
                return  # booked as answered: the upstream's work is done and paid
        if response.stream is None:
            payload = orjson.dumps(response.body)
            headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
            headers += _encode(thrifty_headers(request, response))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        await stream_response(request, response, receive, send)


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
    dialect: Dialect, body: object, task: str | None, tenant: str | None, path: str
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
        task=task,
        tenant=tenant,
        endpoint=path,
    )


async def send_error(
    send: Send, dialect: Dialect, exc: ThriftyError, request_id: str | None = None
) -> None:
    payload = orjson.dumps(error_body(dialect, exc))
    headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
    headers += _encode(error_headers(exc))
    if request_id is not None:
        headers.append((b"x-thrifty-request-id", request_id.encode("ascii")))
    if exc.upstream_request_id:
        name = REQUEST_ID_HEADER[dialect].encode("ascii")
        headers.append((name, header_value(exc.upstream_request_id)))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def stream_response(
    request: ChatRequest, response: ChatResponse, receive: Receive, send: Send
) -> None:
    assert response.stream is not None
    final = False

    async def on_complete() -> None:
        nonlocal final
        final = True  # the batch on its way is the last: the ledger booked it already

    async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
        return None  # the ledger stage books every outcome; nothing else to settle here

    # The shared stream contract: completion is signalled before the final batch, and the
    # upstream is closed whatever happens (an error, a client that left).
    events = observed(response, response.stream, on_complete=on_complete, on_abort=on_abort)
    this_task = asyncio.current_task()
    finished = client_gone = False

    def on_disconnect(waiter: asyncio.Future[Message]) -> None:
        # uvicorn answers receive() with http.disconnect when the client goes away.
        nonlocal client_gone
        if not finished and not waiter.cancelled() and this_task is not None:
            client_gone = True
            this_task.cancel()

    disconnect: asyncio.Future[Message] = asyncio.ensure_future(receive())
    disconnect.add_done_callback(on_disconnect)
    started = False

    async def start() -> None:
        # Sent with the first batch, not before: one write fewer, the model the upstream
        # reported is known, and an error before the first event keeps its HTTP status.
        nonlocal started
        started = True
        headers = SSE_HEADERS + _encode(thrifty_headers(request, response))
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    try:
        try:
            async for batch in events:
                body = _join(batch)
                if not started:
                    await start()
                if final:
                    # The final event is here and booked: finish the response in one write
                    # and read the upstream's end of body after the app has its answer.
                    finished = True
                    body += _cost_comment(response)
                    await send({"type": "http.response.body", "body": body})
                    async for _ in events:
                        pass
                    return
                await send({"type": "http.response.body", "body": body, "more_body": True})
        except ThriftyError as exc:
            if finished:
                return  # the answer is complete; the upstream failed only at its EOF
            if not started:
                finished = True
                await send_error(send, request.dialect, exc, request.request_id)
                return
            event = error_event(request.dialect, exc)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        finally:
            await events.aclose()
        finished = True
        if not started:
            await start()
        await send({"type": "http.response.body", "body": _cost_comment(response)})
    except asyncio.CancelledError:
        if not client_gone or this_task is None:
            raise
        this_task.uncancel()  # our own cancellation: the ledger has booked the 499
    finally:
        finished = True
        disconnect.cancel()


def _join(batch: Sequence[StreamEvent]) -> bytes:
    return batch[0].raw if len(batch) == 1 else b"".join(event.raw for event in batch)


def _cost_comment(response: ChatResponse) -> bytes:
    """An SSE comment with the final cost (clients ignore comments)."""
    summary = " ".join(f"{name}={value}" for name, value in _money(response))
    return f": thrifty {summary}\n\n".encode() if summary else b""
