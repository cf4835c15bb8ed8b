"""Routes: OpenAI ``POST /v1/chat/completions`` and ``GET /v1/models``, Anthropic
``POST /v1/messages``.  Each one only parses, calls the pipeline, and writes the answer;
every decision is the pipeline's.

What thrifty did is returned in ``x-thrifty-*`` headers (for streams, the cost is known only
at the end: it follows as a final SSE comment line ``: thrifty cost_usd=...``, which SSE
clients ignore).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from thrifty.config import GatewaySettings
from thrifty.errors import BadRequest, NotFound, PayloadTooLarge, ThriftyError
from thrifty.gateway.wire_errors import error_body, error_event, error_headers
from thrifty.ledger.stage import record_rejection
from thrifty.requests import chat_request
from thrifty.runtime import Thrifty
from thrifty.types import ChatRequest, ChatResponse, Dialect

log = logging.getLogger("thrifty.gateway")
JSON_TYPE = "application/json"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def _usd(value: Decimal | None) -> str:
    return "unpriced" if value is None else format(value, "f")


def thrifty_headers(request: ChatRequest, response: ChatResponse) -> dict[str, str]:
    headers = {
        "x-thrifty-request-id": request.request_id,
        "x-thrifty-model": response.model,
        "x-thrifty-provider": response.provider,
        "x-thrifty-levers": ",".join(s.lever for s in response.steps) or "none",
    }
    if response.cost is not None:
        headers["x-thrifty-cost-usd"] = _usd(response.cost.usd)
    if response.baseline is not None:
        headers["x-thrifty-baseline-usd"] = _usd(response.baseline.usd)
    if response.cost is not None and response.baseline is not None:
        saved = sum((s.saved_usd or Decimal(0) for s in response.steps), Decimal(0))
        headers["x-thrifty-saved-usd"] = _usd(saved if response.cost.priced else None)
    return headers


def _dialect_of(request: Request) -> Dialect:
    if request.url.path.startswith("/v1/messages") or "anthropic-version" in request.headers:
        return "anthropic"
    return "openai"


def _tenant(request: Request, settings: GatewaySettings) -> str | None:
    """The tenant header, else a short fingerprint of the app's key (never the key)."""
    named = request.headers.get(settings.tenant_header)
    if named:
        return named
    key = request.headers.get("x-api-key") or request.headers.get("authorization", "")
    key = key.removeprefix("Bearer ").strip()
    if not key:
        return None
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def error_response(dialect: Dialect, exc: ThriftyError) -> Response:
    return Response(
        orjson.dumps(error_body(dialect, exc)),
        status_code=exc.status,
        media_type=JSON_TYPE,
        headers=error_headers(exc),
    )


async def read_json(request: Request, limit: int) -> object:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise BadRequest("request body is empty; expected a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None


def create_app(thrifty: Thrifty) -> Starlette:
    settings = thrifty.settings.gateway

    async def rejected(
        request: Request, dialect: Dialect, exc: ThriftyError, body: object, started: float
    ) -> Response:
        model = body.get("model") if isinstance(body, dict) else None
        model_name = model if isinstance(model, str) else ""
        stub = ChatRequest(
            dialect=dialect,
            body={},
            model=model_name,
            requested_model=model_name,
            task=request.headers.get(settings.task_header),
            tenant=_tenant(request, settings),
            endpoint=request.url.path,
        )
        await record_rejection(thrifty.ledger, stub, exc, started)
        return error_response(dialect, exc)

    async def chat(request: Request, dialect: Dialect) -> Response:
        started = time.perf_counter()
        body: object = None
        try:
            body = await read_json(request, settings.max_body_bytes)
            chat_req = chat_request(
                dialect,
                body,
                task=request.headers.get(settings.task_header),
                tenant=_tenant(request, settings),
                endpoint=request.url.path,
            )
        except ThriftyError as exc:
            return await rejected(request, dialect, exc, body, started)
        try:
            response = await thrifty.handle(chat_req)
        except ThriftyError as exc:  # already booked by the ledger stage
            return error_response(dialect, exc)
        except Exception:  # a bug: booked by the ledger stage; answer in the app's dialect
            log.exception("internal error on request %s", chat_req.request_id)
            return error_response(dialect, ThriftyError("internal error; see the gateway log"))
        if response.stream is None:
            return Response(
                orjson.dumps(response.body),
                media_type=JSON_TYPE,
                headers=thrifty_headers(chat_req, response),
            )
        return StreamingResponse(
            _sse(chat_req, response),
            media_type="text/event-stream",
            headers=SSE_HEADERS | thrifty_headers(chat_req, response),
        )

    async def _sse(request: ChatRequest, response: ChatResponse) -> AsyncIterator[bytes]:
        assert response.stream is not None
        events = response.stream
        try:
            async for batch in events:
                yield b"".join(event.raw for event in batch)
        except ThriftyError as exc:
            yield error_event(request.dialect, exc)
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()
        headers = thrifty_headers(request, response)
        summary = " ".join(
            f"{k.removeprefix('x-thrifty-')}={v}" for k, v in headers.items() if k.endswith("-usd")
        )
        if summary:
            yield f": thrifty {summary}\n\n".encode()

    async def chat_completions(request: Request) -> Response:
        return await chat(request, "openai")

    async def messages(request: Request) -> Response:
        return await chat(request, "anthropic")

    async def models(request: Request) -> Response:
        names: dict[str, str] = {}
        routing = thrifty.settings.routing
        for alias in routing.aliases:
            names.setdefault(alias, "thrifty-alias")
        for upstream in thrifty.providers.upstreams:
            for pattern in upstream.settings.models:
                if not any(ch in pattern for ch in "*?["):
                    names.setdefault(pattern, upstream.name)
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": owner}
            for name, owner in names.items()
        ]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON_TYPE)

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON_TYPE)

    async def not_found(request: Request, exc: Exception) -> Response:
        dialect = _dialect_of(request)
        error = NotFound(f"unknown route {request.method} {request.url.path}")
        status = getattr(exc, "status_code", 404)
        if status == 405:
            error = NotFound(f"method {request.method} not allowed on {request.url.path}")
            error.status = 405
        return await rejected(request, dialect, error, None, time.perf_counter())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await thrifty.start()
        try:
            yield
        finally:
            await thrifty.aclose()

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_found},
    )
