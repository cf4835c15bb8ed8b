"""The gateway: OpenAI ``POST /v1/chat/completions`` and ``GET /v1/models``, Anthropic
``POST /v1/messages``.  The chat routes are served by :class:`ChatEndpoint` directly (the
hot path); the rest, and the lifespan, by a small Starlette app.  No route holds pipeline
logic: every decision is the pipeline's.

What thrifty did is returned in ``x-thrifty-*`` headers (for streams, the cost is known only
at the end: it follows as a final SSE comment line ``: thrifty cost-usd=...``, which SSE
clients ignore).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from thrifty.errors import NotFound
from thrifty.gateway.chat import ChatEndpoint, rejected_request
from thrifty.gateway.wire_errors import error_body, error_headers
from thrifty.runtime import Thrifty
from thrifty.types import Dialect

log = logging.getLogger("thrifty.gateway")
JSON_TYPE = "application/json"
CHAT_ROUTES: dict[str, Dialect] = {
    "/v1/chat/completions": "openai",
    "/chat/completions": "openai",
    "/v1/messages": "anthropic",
}


class Gateway:
    """The ASGI application."""

    def __init__(self, thrifty: Thrifty) -> None:
        self.thrifty = thrifty
        self._chat = ChatEndpoint(thrifty)
        self._other = _other_routes(thrifty)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            dialect = CHAT_ROUTES.get(scope["path"])
            if dialect is not None:
                await self._chat(scope, receive, send, dialect)
                return
        await self._other(scope, receive, send)


def create_app(thrifty: Thrifty) -> Gateway:
    return Gateway(thrifty)


def _dialect_of(request: Request) -> Dialect:
    if request.url.path.startswith("/v1/messages") or "anthropic-version" in request.headers:
        return "anthropic"
    return "openai"


def _other_routes(thrifty: Thrifty) -> Starlette:
    async def models(request: Request) -> Response:
        names: dict[str, str] = {}
        for alias in thrifty.settings.routing.aliases:
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
        """Unknown routes and wrong methods: an error in the dialect the path suggests,
        booked in the ledger like any other rejection."""
        started = time.perf_counter()
        dialect = _dialect_of(request)
        error = NotFound(f"unknown route {request.method} {request.url.path}")
        if getattr(exc, "status_code", 404) == 405:
            error = NotFound(f"method {request.method} not allowed on {request.url.path}")
            error.status = 405
        stub = rejected_request(dialect, None, None, None, request.url.path)
        await thrifty.reject(stub, error, started)
        return Response(
            orjson.dumps(error_body(dialect, error)),
            status_code=error.status,
            media_type=JSON_TYPE,
            headers=error_headers(error),
        )

    async def served_by_chat_endpoint(request: Request) -> Response:
        raise AssertionError("POST to a chat route is handled by ChatEndpoint")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await thrifty.start()
        try:
            yield
        finally:
            await thrifty.aclose()

    routes = [
        # Listed so that other methods on the chat paths get 405, not 404.
        *(Route(path, served_by_chat_endpoint, methods=["POST"]) for path in CHAT_ROUTES),
        Route("/v1/models", models, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_found},
    )
