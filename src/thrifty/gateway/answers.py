"""Writing answers to the ASGI client: error bodies and streams (one send per upstream
read; a client that hangs up cancels the stream at once, and the ledger books it as 499)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import orjson
from starlette.types import Message, Receive, Scope, Send

from thrifty.errors import ThriftyError
from thrifty.gateway.headers import (
    JSON_HEADERS,
    REQUEST_ID_HEADER,
    SSE_HEADERS,
    encode_headers,
    header_value,
    money_headers,
    thrifty_headers,
)
from thrifty.gateway.wire_errors import error_body, error_event, error_headers
from thrifty.serving import disconnect_hook
from thrifty.streams import observed
from thrifty.types import ChatRequest, ChatResponse, Dialect, StreamEvent


class ClientWatch:
    """Watches for the client hanging up, for the whole of one answer: while
    :attr:`armed`, a disconnect cancels the task that made the watch (the answer's own
    task; it then books a 499).  One watch serves both the call (until the pipeline
    returns) and the stream that follows.  A disconnect that arrives while disarmed acts
    when the watch is armed again.

    Under the gateway's own server the request's :class:`~thrifty.serving.DisconnectHook`
    says when the connection is lost (no task at all); under any other ASGI server one
    ``receive()`` is awaited in a task of its own for an ``http.disconnect``."""

    __slots__ = ("_hook", "_left", "_task", "_waiter", "armed", "gone")

    def __init__(self, receive: Receive, scope: Scope | None = None) -> None:
        self._task = asyncio.current_task()
        self.armed = True
        self.gone = False
        self._left = False
        self._waiter: asyncio.Future[Message] | None = None
        self._hook = None if scope is None else disconnect_hook(scope)
        if self._hook is not None:
            self._hook.callback = self._client_left
            if self._hook.fired:  # it left before the watch began
                self._client_left()
        else:
            self._waiter = asyncio.ensure_future(receive())
            self._waiter.add_done_callback(self._on_message)

    def _on_message(self, waiter: asyncio.Future[Message]) -> None:
        if (
            not waiter.cancelled()
            and waiter.exception() is None
            and waiter.result()["type"] == "http.disconnect"
        ):
            self._client_left()

    def _client_left(self) -> None:
        self._left = True
        if self.armed and not self.gone and self._task is not None:
            self.gone = True
            self._task.cancel()

    def arm(self) -> None:
        self.armed = True
        if self.gone and self._task is not None:
            # It left as the call finished; that cancellation was absorbed there.
            self._task.cancel()
        elif self._left:
            self._client_left()

    def close(self) -> None:
        self.armed = False
        if self._waiter is not None:
            self._waiter.cancel()
        if self._hook is not None:
            self._hook.callback = None


async def send_error(
    send: Send, dialect: Dialect, exc: ThriftyError, request_id: str | None = None
) -> None:
    payload = orjson.dumps(error_body(dialect, exc))
    headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
    headers += encode_headers(error_headers(exc))
    if request_id is not None:
        headers.append((b"x-thrifty-request-id", request_id.encode("ascii")))
    if exc.upstream_request_id:
        name = REQUEST_ID_HEADER[dialect].encode("ascii")
        headers.append((name, header_value(exc.upstream_request_id)))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def stream_response(
    request: ChatRequest, response: ChatResponse, watch: ClientWatch, send: Send
) -> None:
    """Stream ``response`` to the client; ``watch`` (armed here, closed at the end) cancels
    this task if the client hangs up."""
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
    finished = False
    started = False

    async def start(money: list[tuple[str, str]] | None = None) -> None:
        # Sent with the first batch, not before: one write fewer, the model the upstream
        # reported is known, and an error before the first event keeps its HTTP status.
        nonlocal started
        started = True
        headers = SSE_HEADERS + encode_headers(thrifty_headers(request, response, money))
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    try:
        watch.arm()  # uvicorn answers receive() with http.disconnect when the client goes
        try:
            async for batch in events:
                body = _join(batch)
                # The final figures, once the ledger has them: for the headers too when the
                # stream came in one read.
                money = money_headers(response) if final else None
                if not started:
                    await start(money)
                if money is not None:
                    # The final event is here and booked: finish the response in one write
                    # and read the upstream's end of body after the app has its answer.
                    finished = True
                    watch.armed = False
                    body += _cost_comment(money)
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
                watch.armed = False
                await send_error(send, request.dialect, exc, request.request_id)
                return
            event = error_event(request.dialect, exc, request.api)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        finally:
            await events.aclose()
        finished = True
        watch.armed = False
        if not started:
            await start()
        await send({"type": "http.response.body", "body": _cost_comment(money_headers(response))})
    except asyncio.CancelledError:
        if not watch.gone or this_task is None:
            raise
        this_task.uncancel()  # our own cancellation: the ledger has booked the 499
    finally:
        watch.close()


def _join(batch: Sequence[StreamEvent]) -> bytes:
    return batch[0].raw if len(batch) == 1 else b"".join([event.raw for event in batch])


def _cost_comment(money: list[tuple[str, str]]) -> bytes:
    """An SSE comment with the final cost, from :func:`money_headers` (clients ignore
    comments)."""
    summary = " ".join(f"{name}={value}" for name, value in money)
    return f": thrifty {summary}\n\n".encode() if summary else b""
