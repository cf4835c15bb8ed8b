"""The gateway: OpenAI ``POST /v1/chat/completions`` and ``GET /v1/models``, Anthropic
``POST /v1/messages``, and OpenAI's other paid operations ``POST /v1/responses``,
``/v1/embeddings`` and ``/v1/completions``.  These routes are served by
:class:`ChatEndpoint` directly (the hot path, one pipeline); the rest, and the lifespan,
by a small Starlette app.  No route holds pipeline
logic: every decision is the pipeline's.

What thrifty did is returned in ``x-thrifty-*`` headers (for streams, the cost is known only
at the end: it follows as a final SSE comment line ``: thrifty cost-usd=...``, which SSE
clients ignore).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from thrifty.errors import BadRequest, ModelNotFound, NotFound, ThriftyError
from thrifty.gateway.auth import (
    Guard,
    MethodNotAllowed,
    UnsupportedMediaType,
    dialect_of,
    json_content_type,
)
from thrifty.gateway.batch_routes import DeferredRequests, deferred
from thrifty.gateway.chat import ChatEndpoint, rejected_request, send_error
from thrifty.gateway.keys import ActiveKeys, keys_path
from thrifty.gateway.models import ModelCatalog
from thrifty.gateway.request_body import read_body
from thrifty.gateway.response_owners import ResponseOwners, owners_path
from thrifty.gateway.response_routes import ResponseSideRoutes
from thrifty.gateway.wire_errors import error_body, error_headers
from thrifty.runtime import Thrifty
from thrifty.types import Api, Dialect

log = logging.getLogger("thrifty.gateway")
JSON_TYPE = "application/json"
CHAT_ROUTES: dict[str, Dialect] = {
    "/v1/chat/completions": "openai",
    "/chat/completions": "openai",
    "/v1/messages": "anthropic",
}
# OpenAI's other operations, booked like chat (OpenAI dialect; served by OpenAI-compatible
# providers only).  Like chat completions, each is served with and without ``/v1``.
_OTHER_APIS: tuple[Api, ...] = ("responses", "embeddings", "completions")
API_ROUTES: dict[str, Api] = {
    f"{prefix}/{api}": api for prefix in ("/v1", "") for api in _OTHER_APIS
}
# Every route the pipeline serves: (dialect, API operation).
PIPELINE_ROUTES: dict[str, tuple[Dialect, Api]] = {
    **{path: (dialect, "chat") for path, dialect in CHAT_ROUTES.items()},
    **{path: ("openai", api) for path, api in API_ROUTES.items()},
}
COUNT_TOKENS = "/v1/messages/count_tokens"
OPEN_PATHS = frozenset({"/health"})  # liveness probes need no key
# GET /v1/models/{id}: the SDKs send an id's "/" (org/name) encoded as %2F.
MODEL_PREFIXES = (b"/v1/models/", b"/models/")


class Refusals:
    """Requests refused before routing (auth, origin, unknown routes): counted and logged
    (the first of each kind, then at 10, 100, ...), never booked as ledger rows, so that
    a flood of them cannot fill the disk."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def note(self, code: str, detail: str) -> None:
        self.counts[code] += 1
        count = self.counts[code]
        if count == 1 or str(count).strip("0") == "1":
            log.warning("refused %d request(s) so far with %s (latest: %s)", count, code, detail)


class Gateway:
    """The ASGI application."""

    def __init__(self, thrifty: Thrifty) -> None:
        self.thrifty = thrifty
        self.refusals = Refusals()
        settings = thrifty.settings.gateway
        self.keys = ActiveKeys(keys_path(thrifty.settings))
        self.guard = Guard(self.keys, require_auth=settings.require_auth)
        # Stored Responses answers' tenants: other tenants' ids are unknown ids to them.
        self.response_owners = ResponseOwners(owners_path(thrifty.settings))
        self._chat = ChatEndpoint(thrifty, self.response_owners, self._keys_on)
        self._tenant_header = settings.tenant_header.lower().encode("latin-1")
        self._deferred = DeferredRequests(thrifty)  # X-Thrifty-Defer: 202 + result URL
        # While serving, deferred requests' provider jobs are followed in the background.
        self._other = _other_routes(
            thrifty,
            self.refusals,
            background=(self._deferred.follow,),
            closing=(self.response_owners.close,),
        )
        self._other.router.routes.extend(self._deferred.routes())
        # GET/DELETE /v1/responses/{id}, .../cancel, .../input_items, input_tokens: free.
        self.response_side_routes = ResponseSideRoutes(thrifty, self.response_owners, self._keys_on)
        self._other.router.routes.extend(self.response_side_routes.routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._other(scope, receive, send)  # lifespan
            return
        path: str = scope["path"]
        raw: bytes = scope.get("raw_path") or b""
        if (
            b"%" in raw
            and (b"%2f" in raw.lower() or b"%5c" in raw.lower())
            and not raw.startswith(MODEL_PREFIXES)  # an id like org/name, not a route
        ):
            # An encoded slash is not a path separator: never decode it into a route.
            await self._refuse(send, "openai", NotFound("unknown route (encoded '/' in path)"))
            return
        if len(path) > 1 and path.endswith("/"):
            # Serve the route without its trailing slash (no redirect built from Host).
            path = path[:-1]
            scope = {**scope, "path": path, "raw_path": raw[:-1] if raw.endswith(b"/") else raw}
        if path in OPEN_PATHS:
            await self._other(scope, receive, send)
            return
        verdict = self.guard.check(scope)
        if verdict.error is not None:
            await self._refuse(send, dialect_of(path, verdict.anthropic), verdict.error)
            return
        if verdict.tenant is not None:
            scope = self._as_tenant(scope, verdict.tenant)
        if scope["method"] == "POST":
            route = PIPELINE_ROUTES.get(path)
            if route is not None:
                dialect, api = route
                if not json_content_type(verdict.content_type):
                    error = _unsupported_media(verdict.content_type)
                    stub = rejected_request(dialect, None, None, verdict.tenant, path, api)
                    await self.thrifty.reject(stub, error, time.perf_counter())
                    await send_error(send, dialect, error, stub.request_id)
                    return
                if api == "chat" and deferred(scope):
                    await self._deferred.submit(scope, receive, send, dialect)
                    return
                await self._chat(scope, receive, send, dialect, api)
                return
            if path == COUNT_TOKENS and not json_content_type(verdict.content_type):
                # Free and never booked: refused like the chat routes, and counted.
                await self._refuse(send, "anthropic", _unsupported_media(verdict.content_type))
                return
        await self._other(scope, receive, send)

    def _keys_on(self) -> bool:
        return self.guard.auth_required

    def _as_tenant(self, scope: Scope, tenant: str) -> Scope:
        """The request as the key's tenant: the key names the tenant (a tenant header the
        app sent is replaced), and the key itself goes no further."""
        drop = (self._tenant_header, b"authorization", b"x-api-key")
        headers = [(k, v) for k, v in scope["headers"] if k not in drop]
        headers.append((self._tenant_header, tenant.encode("latin-1")))
        return {**scope, "headers": headers}

    async def _refuse(self, send: Send, dialect: Dialect, error: ThriftyError) -> None:
        self.refusals.note(error.code, error.message[:200])
        await send_error(send, dialect, error)


def _unsupported_media(content_type: bytes | None) -> UnsupportedMediaType:
    media = (content_type or b"").decode("latin-1")[:100]
    return UnsupportedMediaType(f"Content-Type {media!r} is not supported; send application/json")


def create_app(thrifty: Thrifty) -> Gateway:
    return Gateway(thrifty)


def _other_routes(
    thrifty: Thrifty,
    refusals: Refusals,
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    closing: Sequence[Callable[[], None]] = (),
) -> Starlette:
    """The routes besides the pipeline's, and the lifespan: ``background`` tasks run
    while serving; at shutdown they are cancelled, then each of ``closing`` is called
    (a failure of one does not stop the shutdown)."""
    catalog = ModelCatalog(thrifty)

    async def models(request: Request) -> Response:
        data = await catalog.listing()
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON_TYPE)

    async def count_tokens(request: Request) -> Response:
        """Anthropic ``POST /v1/messages/count_tokens``: forwarded to the Anthropic provider
        that serves the model, free and not booked (no tokens are generated)."""
        try:
            raw = await read_body(request, thrifty.settings.gateway.max_body_bytes)
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        except ThriftyError as exc:  # over the body limit
            return Response(
                orjson.dumps(error_body("anthropic", exc)),
                status_code=exc.status,
                media_type=JSON_TYPE,
                headers=error_headers(exc),
            )
        model = body.get("model") if isinstance(body, dict) else None
        try:
            if not isinstance(model, str) or not model:
                raise BadRequest("count_tokens needs a JSON body with a `model` string")
            upstream = thrifty.providers.resolve(model)
            if upstream.settings.dialect != "anthropic" or upstream.provider is None:
                raise BadRequest(
                    f"count_tokens is served for Anthropic-API models; {model[:64]!r} is "
                    f"served by provider {upstream.name!r}"
                )
            status, answer = await upstream.provider.forward("/v1/messages/count_tokens", raw)
        except ThriftyError as exc:
            return Response(
                orjson.dumps(error_body("anthropic", exc)),
                status_code=exc.status,
                media_type=JSON_TYPE,
                headers=error_headers(exc),
            )
        return Response(answer, status_code=status, media_type=JSON_TYPE)

    async def model(request: Request) -> Response:
        model_id: str = request.path_params["model_id"]
        found = await catalog.find(model_id)
        if found is None:
            shown = model_id if len(model_id) <= 64 else model_id[:64] + "..."
            error = ModelNotFound(f"The model {shown!r} does not exist or is not served here")
            return Response(
                orjson.dumps(error_body("openai", error)),
                status_code=error.status,
                media_type=JSON_TYPE,
                headers=error_headers(error),
            )
        return Response(orjson.dumps(found), media_type=JSON_TYPE)

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON_TYPE)

    async def not_found(request: Request, exc: Exception) -> Response:
        """Unknown routes and wrong methods: an error in the dialect the path suggests,
        counted in the log, not booked (nothing was asked of a model)."""
        dialect = dialect_of(request.scope["path"], "anthropic-version" in request.headers)
        path = request.scope["path"][:200]
        headers: dict[str, str] = {}
        error: ThriftyError
        if getattr(exc, "status_code", 404) == 405:
            error = MethodNotAllowed(f"method {request.method[:20]} is not allowed on {path}")
            allow = (getattr(exc, "headers", None) or {}).get("Allow")
            if allow:
                headers["allow"] = allow
        else:
            error = NotFound(f"unknown route {request.method[:20]} {path}")
        refusals.note(error.code, error.message)
        return Response(
            orjson.dumps(error_body(dialect, error)),
            status_code=error.status,
            media_type=JSON_TYPE,
            headers={**error_headers(error), **headers},
        )

    async def served_by_chat_endpoint(request: Request) -> Response:
        raise AssertionError("POST to a pipeline route is handled by ChatEndpoint")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await thrifty.start()
        tasks = [asyncio.create_task(work()) for work in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for close in closing:
                with suppress(Exception):
                    close()
            await thrifty.aclose()

    routes = [
        # Listed so that other methods on the chat paths get 405, not 404.
        *(Route(path, served_by_chat_endpoint, methods=["POST"]) for path in PIPELINE_ROUTES),
        Route(COUNT_TOKENS, count_tokens, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", model, methods=["GET"]),
        Route("/models/{model_id:path}", model, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_found},
    )
    app.router.redirect_slashes = False  # Gateway.__call__ serves a trailing slash itself
    return app
