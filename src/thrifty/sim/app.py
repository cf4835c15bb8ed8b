"""The simulator's ASGI app: both chat dialects, OpenAI's other APIs (Responses with its
stored responses, embeddings, legacy completions), plus admin routes under ``/_sim``."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from thrifty.sim.anthropic_wire import AnthropicDialect
from thrifty.sim.batches_anthropic import AnthropicBatches
from thrifty.sim.batches_openai import OpenAIBatches
from thrifty.sim.chat import ChatEndpoint
from thrifty.sim.completions import CompletionsDialect
from thrifty.sim.config import SimConfig
from thrifty.sim.dialect import BadRequest
from thrifty.sim.embeddings import EmbeddingsDialect
from thrifty.sim.faults import FaultError, parse_fault
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.sim.response_routes import ResponseRoutes
from thrifty.sim.responses import ResponsesDialect
from thrifty.sim.state import SimState
from thrifty.sim.tokens import TokenMemo

MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-4o-search-preview",
    "gpt-4o-mini-search-preview",
    "gpt-5-search-api",
    "gpt-3.5-turbo-instruct",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-opus-4-7",
)
_CREATED = 1_700_000_000


def _json(obj: object, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def sim_state(app: Starlette) -> SimState:
    """The :class:`SimState` of an app made by :func:`create_app`."""
    state: SimState = app.state.sim
    return state


def create_app(
    config: SimConfig | None = None, *, clock: Callable[[], float] | None = None
) -> Starlette:
    """A fresh simulator app.  ``clock`` (monotonic seconds) drives cache expiry; inject a
    fake one in tests.  All state lives on the returned app (``app.state.sim``)."""
    state = SimState.build(config or SimConfig(), clock)
    memo = TokenMemo()
    openai = OpenAIDialect(memo)
    responses = ResponsesDialect(memo, state.responses)
    anthropic = AnthropicDialect(memo)

    async def health(request: Request) -> Response:
        return _json({"status": "ok"})

    async def models(request: Request) -> Response:
        state.stats.hit("/v1/models")
        state.stats.status(200)
        if "anthropic-version" in request.headers:
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in MODELS
                if m.startswith("claude")
            ]
            return _json(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"],
                    "last_id": data[-1]["id"],
                }
            )
        listing = [
            {"id": m, "object": "model", "created": _CREATED, "owned_by": "thrifty-sim"}
            for m in MODELS
        ]
        return _json({"object": "list", "data": listing})

    async def count_tokens(request: Request) -> Response:
        state.stats.hit("/v1/messages/count_tokens")
        try:
            body = orjson.loads(await request.body())
            return _json({"input_tokens": anthropic.count_tokens(body)})
        except orjson.JSONDecodeError:
            return Response(
                anthropic.error(400, "There was an error parsing the body."),
                400,
                media_type="application/json",
            )
        except BadRequest as exc:
            return Response(anthropic.error(400, exc.message), 400, media_type="application/json")

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
            return _json({"pending": []})
        if request.method == "POST":
            try:
                body = orjson.loads(await request.body())
                fault = parse_fault(str(body["fault"]))
                count = int(body.get("count", 1))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, FaultError) as exc:
                return _json({"error": f"bad fault request: {exc}"}, 400)
            state.faults.push(fault, max(count, 0))
        return _json({"pending": state.faults.pending()})

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            state.stats.reset()
        return _json(state.stats.snapshot())

    async def clear_cache(request: Request) -> Response:
        state.caches.openai.clear()
        state.caches.anthropic.clear()
        return _json({"cleared": True})

    routes = [
        Route(
            "/v1/chat/completions",
            ChatEndpoint(state, openai, "/v1/chat/completions"),
            methods=["POST"],
        ),
        Route(
            "/v1/responses",
            ChatEndpoint(state, responses, "/v1/responses"),
            methods=["POST"],
        ),
        Route(
            "/v1/embeddings",
            ChatEndpoint(state, EmbeddingsDialect(memo), "/v1/embeddings"),
            methods=["POST"],
        ),
        Route(
            "/v1/completions",
            ChatEndpoint(state, CompletionsDialect(memo), "/v1/completions"),
            methods=["POST"],
        ),
        Route("/v1/messages", ChatEndpoint(state, anthropic, "/v1/messages"), methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/stats", stats, methods=["GET", "DELETE"]),
        Route("/_sim/cache", clear_cache, methods=["DELETE"]),
    ]
    routes += ResponseRoutes(state, responses).routes()
    routes += [*OpenAIBatches(state, openai).routes(), *AnthropicBatches(state, anthropic).routes()]
    app = Starlette(routes=routes)
    app.state.sim = state
    return app
