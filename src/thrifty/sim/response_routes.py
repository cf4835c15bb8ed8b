"""The Responses API's side routes in the simulator: retrieve, delete, cancel, input items
and input-token counts (see :mod:`thrifty.sim.stored_responses` for what each answers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from thrifty.sim.chat import BAD_KEY
from thrifty.sim.dialect import BadRequest, JSONObj
from thrifty.sim.responses import ResponsesDialect
from thrifty.sim.state import SimState
from thrifty.sim.stored_responses import DEFAULT_PAGE, MAX_PAGE, NotStored

Handler = Callable[[Request], Awaitable[Response]]


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_PAGE
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(
            f"Invalid 'limit': expected an integer from 1 to {MAX_PAGE}.", param="limit"
        )
    return limit


def _order(request: Request) -> str:
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest("Invalid 'order': expected 'asc' or 'desc'.", param="order")
    return order


class ResponseRoutes:
    """``/v1/responses/...`` other than the create call, on ``state.responses``."""

    def __init__(self, state: SimState, dialect: ResponsesDialect) -> None:
        self.state = state
        self.dialect = dialect
        self.store = state.responses

    def routes(self) -> list[Route]:
        one = "/v1/responses/{response_id}"
        table: list[tuple[str, str, Callable[[Request], Awaitable[JSONObj]]]] = [
            ("POST", "/v1/responses/input_tokens", self.input_tokens),
            ("GET", one, self.retrieve),
            ("DELETE", one, self.delete),
            ("POST", one + "/cancel", self.cancel),
            ("GET", one + "/input_items", self.input_items),
        ]
        return [
            Route(path, self._wrap(f"{method} {path}", handler), methods=[method])
            for method, path, handler in table
        ]

    def _wrap(self, name: str, handler: Callable[[Request], Awaitable[JSONObj]]) -> Handler:
        """Counts the call (``stats.by_route[name]``), checks the key, and turns failures
        into OpenAI error bodies."""

        async def route(request: Request) -> Response:
            stats = self.state.stats
            stats.hit(name)
            status, body = 200, b""
            auth = request.headers.get("authorization", "")
            if auth[7:].strip().encode() == BAD_KEY:
                status, body = 401, self.dialect.auth_error()
            else:
                try:
                    body = orjson.dumps(await handler(request))
                except NotStored as exc:
                    status, body = 404, self.dialect.error(404, exc.message)
                except BadRequest as exc:
                    status = 400
                    body = self.dialect.error(400, exc.message, param=exc.param, code=exc.code)
            stats.status(status)
            return Response(
                body,
                status_code=status,
                media_type="application/json",
                headers=dict([_decoded(self.dialect.request_id_header())]),
            )

        return route

    async def retrieve(self, request: Request) -> JSONObj:
        if request.query_params.get("stream") == "true":
            raise BadRequest(
                "The simulator does not stream a stored response; retrieve it without 'stream'.",
                param="stream",
            )
        return self.store.get(request.path_params["response_id"])

    async def delete(self, request: Request) -> JSONObj:
        return self.store.delete(request.path_params["response_id"])

    async def cancel(self, request: Request) -> JSONObj:
        return self.store.cancel(request.path_params["response_id"])

    async def input_items(self, request: Request) -> JSONObj:
        return self.store.input_items(
            request.path_params["response_id"],
            after=request.query_params.get("after"),
            limit=_limit(request),
            order=_order(request),
        )

    async def input_tokens(self, request: Request) -> JSONObj:
        try:
            body: object = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = None  # prepare() rejects it with OpenAI's parse-error message
        count = self.dialect.count_input(body)
        return {"object": "response.input_tokens", "input_tokens": count}


def _decoded(header: tuple[bytes, bytes]) -> tuple[str, str]:
    return header[0].decode("latin-1"), header[1].decode("latin-1")
