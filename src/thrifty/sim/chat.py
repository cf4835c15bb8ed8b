"""The chat endpoint, shared by both dialects: a raw ASGI callable (no Request objects)."""

from __future__ import annotations

from dataclasses import replace

import orjson
from starlette.types import Receive, Scope, Send

from thrifty.sim.asgi import JSON_CT, pause, read_body, send_bytes, send_chunk, start_stream
from thrifty.sim.dialect import BadRequest, Dialect, StreamParts
from thrifty.sim.faults import STATUS_FAULTS, FaultError, plan_request
from thrifty.sim.state import SimState
from thrifty.sim.tokens import make_answer

BAD_KEY = b"sim-bad-key"


def _bad_key(headers: dict[bytes, bytes]) -> bool:
    auth = headers.get(b"authorization", b"")
    bearer = auth[7:].strip() if auth[:7].lower() == b"bearer " else None
    return BAD_KEY in (bearer, headers.get(b"x-api-key"))


class ChatEndpoint:
    """``POST /v1/chat/completions`` or ``POST /v1/messages``, depending on ``dialect``."""

    def __init__(self, state: SimState, dialect: Dialect, route: str) -> None:
        self.state = state
        self.dialect = dialect
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state, dialect = self.state, self.dialect
        state.stats.hit(self.route)
        headers: dict[bytes, bytes] = dict(scope["headers"])
        raw = await read_body(receive)
        if _bad_key(headers):
            await self._error(send, 401, dialect.auth_error())
            return
        try:
            try:
                body: object = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = None  # prepare() rejects it with the dialect's parse-error message
            prep = dialect.prepare(body)
            plan = plan_request(
                headers.get(b"x-sim-fault"),
                headers.get(b"x-sim-latency-ms"),
                prep.last_user_text,
                state.faults,
            )
        except BadRequest as exc:
            await self._error(
                send, 400, dialect.error(400, exc.message, param=exc.param, code=exc.code)
            )
            return
        except FaultError as exc:
            await self._error(send, 400, dialect.error(400, str(exc)))
            return
        if plan.fault is not None:
            state.stats.fault(plan.fault)
        delay = state.config.latency_ms / 1000.0 + plan.extra_latency_s
        if prep.background:  # answered at once; the simulated work takes the latency
            prep, delay = replace(prep, run_s=delay), 0.0
        if not await pause(receive, delay):
            return  # client gone
        if plan.fault in STATUS_FAULTS:
            status = int(plan.fault or 500)
            extra = [(b"retry-after", b"1")] if status == 429 else []
            await self._error(send, status, dialect.fault_error(status), extra)
            return
        usage = dialect.prompt_usage(prep, state.caches)
        answer = make_answer(prep.seed, prep.last_user_text, prep.max_tokens)
        cut = plan.fault == "cut"
        state.stats.status(200)
        if prep.stream:
            state.stats.streams += 1
            await self._stream(receive, send, dialect.stream_events(prep, answer, usage), cut)
            return
        payload = dialect.response(prep, answer, usage)
        if not cut:
            await send_bytes(send, 200, payload, (JSON_CT, dialect.request_id_header()))
            return
        # Promise the whole body, deliver half, then drop the connection.
        start_headers = [JSON_CT, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": start_headers})
        await send_chunk(send, payload[: len(payload) // 2])

    async def _stream(self, receive: Receive, send: Send, parts: StreamParts, cut: bool) -> None:
        await start_stream(send, [self.dialect.request_id_header()])
        deltas = parts.deltas[: max(1, len(parts.deltas) // 2)] if cut else parts.deltas
        tail = [] if cut else parts.tail
        gap = self.state.config.stream_chunk_delay_ms / 1000.0
        if gap <= 0:
            await send_chunk(send, b"".join([*parts.head, *deltas, *tail]), last=not cut)
            return
        await send_chunk(send, b"".join(parts.head))
        for event in deltas:
            if not await pause(receive, gap):
                return
            await send_chunk(send, event)
        if not cut:
            await send_chunk(send, b"".join(tail), last=True)
        # cut: return without finishing; the server closes the connection mid-stream.

    async def _error(
        self, send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.state.stats.status(status)
        headers = [JSON_CT, self.dialect.request_id_header(), *(extra or [])]
        await send_bytes(send, status, body, headers)
