"""The Responses API's side routes, forwarded to an OpenAI-dialect provider:

* ``GET /v1/responses/{id}`` (retrieve; ``stream=true`` is a clear ``400``),
* ``DELETE /v1/responses/{id}``,
* ``POST /v1/responses/{id}/cancel`` (background responses),
* ``GET /v1/responses/{id}/input_items``,
* ``POST /v1/responses/input_tokens`` (counts a request's input tokens).

None of them generates tokens, so none is booked in the ledger as a call of its own; each
is counted in :attr:`ResponseSideRoutes.counts` and logged (the first call of each route,
then at 10, 100, ...; every call at debug level).  One exception: the first retrieve (or
cancel) that returns a *background* response finished, with its usage, books that
response's work, once (:mod:`thrifty.gateway.response_bookings`); the answer then carries
that row's ``x-thrifty-request-id`` and ``x-thrifty-cost-usd``.

Which provider: a response id does not say who made it.  The call goes to the provider the
app names in ``x-thrifty-provider`` (the header the gateway puts on every answer, so an app
can echo it); without it, to the provider named ``openai`` when it speaks the OpenAI
dialect, else to the first OpenAI-dialect provider configured.  ``input_tokens`` goes to
the provider that serves the body's ``model``, as ``POST /v1/responses`` would.

Guards as on the other routes: the gateway key (checked before routing), a bounded body,
ids and query values checked locally, OpenAI error bodies, and the provider's key never
shown (the provider scrubs its key from an upstream error body).  A response id the tenant
may not use (another tenant's; any unrecorded id when the gateway has keys) is answered as
the provider answers an unknown id, without calling it; when the owner records cannot be
read, a 503 (see :mod:`thrifty.gateway.response_owners`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from thrifty.dispatch import Upstream
from thrifty.errors import (
    BadRequest,
    NotFound,
    ThriftyError,
)
from thrifty.gateway.auth import UnsupportedMediaType, json_content_type
from thrifty.gateway.headers import money_headers, tenant_from_headers
from thrifty.gateway.record_file import check_response_id
from thrifty.gateway.request_body import read_body
from thrifty.gateway.response_booking_rows import book_if_finished
from thrifty.gateway.response_bookings import drop_deleted
from thrifty.gateway.response_calls import booking_ledger, forward_side, side_upstream
from thrifty.gateway.response_owners import ResponseOwners, unknown_response_body
from thrifty.gateway.wire_errors import error_body, error_headers
from thrifty.runtime import Thrifty
from thrifty.types import Stage

log = logging.getLogger("thrifty.gateway")

JSON_TYPE = "application/json"
PROVIDER_HEADER = "x-thrifty-provider"
MAX_QUERY_VALUE = 128
MAX_QUERY_ITEMS = 32
# The query parameters each route takes (OpenAI's API reference); others are a 400.
_RETRIEVE_QUERY = frozenset({"include", "include[]", "include_obfuscation", "starting_after"})
_ITEMS_QUERY = frozenset({"after", "include", "include[]", "limit", "order"})

Handler = Callable[[Request], Awaitable[Response]]


def _error(exc: ThriftyError) -> Response:
    return Response(
        orjson.dumps(error_body("openai", exc)),
        status_code=exc.status,
        media_type=JSON_TYPE,
        headers=error_headers(exc),
    )


def _query(request: Request, allowed: frozenset[str]) -> str:
    """The request's query, checked (known names, short values) and re-encoded."""
    items = request.query_params.multi_items()
    if len(items) > MAX_QUERY_ITEMS:
        raise BadRequest(f"too many query parameters (the limit is {MAX_QUERY_ITEMS})")
    for name, value in items:
        if name == "stream":
            if value.lower() in ("false", "0"):
                continue
            raise BadRequest(
                "the gateway does not stream a stored response (stream=true); retrieve it "
                "without 'stream' and poll until its status is final"
            )
        if name not in allowed:
            raise BadRequest(f"unknown query parameter {name[:40]!r}")
        if len(value) > MAX_QUERY_VALUE:
            raise BadRequest(f"query parameter {name!r} is over {MAX_QUERY_VALUE} characters")
    kept = [(name, value) for name, value in items if name != "stream"]
    return "?" + urlencode(kept) if kept else ""


class ResponseSideRoutes:
    """The five routes, with and without the ``/v1`` prefix."""

    def __init__(
        self,
        thrifty: Thrifty,
        owners: ResponseOwners | None = None,
        keys_on: Callable[[], bool] = lambda: False,
    ) -> None:
        self._thrifty = thrifty
        self._max_body = thrifty.settings.gateway.max_body_bytes
        self._tenant_header = thrifty.settings.gateway.tenant_header.lower()
        self._owners = owners  # None: no tenant checks (a single-tenant front-end)
        self._keys_on = keys_on
        self.counts: Counter[str] = Counter()
        self._ledger: Stage | None = None

    def routes(self) -> list[Route]:
        one = "/responses/{response_id}"
        table: list[tuple[str, str, Handler]] = [
            ("POST", "/responses/input_tokens", self.input_tokens),
            ("POST", "/responses/compact", self.compact),
            ("GET", one, self.retrieve),
            ("DELETE", one, self.delete),
            ("POST", one + "/cancel", self.cancel),
            ("GET", one + "/input_items", self.input_items),
        ]
        return [
            Route(prefix + path, handler, methods=[method])
            for prefix in ("/v1", "")
            for method, path, handler in table
        ]

    async def compact(self, request: Request) -> Response:
        """A paid call (the provider runs a model over the conversation) that thrifty does
        not book yet: refused, never forwarded unbooked."""
        return _error(
            NotFound(
                "POST /v1/responses/compact is not served by the gateway: it is a paid call "
                "thrifty cannot book yet; call the provider directly"
            )
        )

    async def retrieve(self, request: Request) -> Response:
        return await self._side_call(request, "GET", "", _RETRIEVE_QUERY)

    async def delete(self, request: Request) -> Response:
        return await self._side_call(request, "DELETE", "", frozenset())

    async def cancel(self, request: Request) -> Response:
        return await self._side_call(request, "POST", "/cancel", frozenset())

    async def input_items(self, request: Request) -> Response:
        return await self._side_call(request, "GET", "/input_items", _ITEMS_QUERY)

    async def _side_call(
        self, request: Request, method: str, suffix: str, query: frozenset[str]
    ) -> Response:
        route = f"{method} /v1/responses/{{id}}{suffix}"
        try:
            response_id = check_response_id(request.path_params["response_id"])
            sent = f"/responses/{response_id}{suffix}" + _query(request, query)
            await self._thrifty.start()
            upstream = self._named_or_default(request)
            owners = self._owners
            if owners is not None and not owners.may_use(
                response_id, self._tenant(request), keys_on=self._keys_on()
            ):
                self._count(route + " (refused: not this tenant's)", upstream.name, 404)
                return Response(
                    orjson.dumps(unknown_response_body(response_id)),
                    status_code=404,
                    media_type=JSON_TYPE,
                    headers={PROVIDER_HEADER: upstream.name},
                )
            answer = await self._forward(route, upstream, method, sent, None)
            if owners is not None and answer.status_code == 200:
                if method == "DELETE":
                    owners.forget(response_id)
                    drop_deleted(owners.bookings, response_id)
                elif suffix in ("", "/cancel"):
                    await self._book_if_finished(owners, response_id, answer)
            return answer
        except ThriftyError as exc:
            return _error(exc)

    async def _book_if_finished(
        self, owners: ResponseOwners, response_id: str, answer: Response
    ) -> None:
        """Book a background response the first time it comes back finished with usage;
        the answer then carries the row's request id and cost."""
        booked = await book_if_finished(
            owners.bookings, self._ledger_stage, response_id, bytes(answer.body)
        )
        if booked is None:
            return
        answer.headers["x-thrifty-request-id"] = booked.served_id
        for name, value in money_headers(booked.response):
            answer.headers[f"x-thrifty-{name}"] = value

    def _ledger_stage(self) -> Stage:
        if self._ledger is None:
            self._ledger = booking_ledger(self._thrifty)
        return self._ledger

    def _tenant(self, request: Request) -> str | None:
        return tenant_from_headers(request.headers.raw, self._tenant_header)

    async def input_tokens(self, request: Request) -> Response:
        try:
            _query(request, frozenset())
            kind = request.headers.get("content-type")
            if not json_content_type(None if kind is None else kind.encode("latin-1")):
                raise UnsupportedMediaType("send the body as application/json")
            await self._thrifty.start()
            raw = await read_body(request, self._max_body)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise BadRequest("the body is not valid JSON") from None
            if not isinstance(body, dict):
                raise BadRequest("request body must be a JSON object")
            model = body.get("model")
            if model is None or request.headers.get(PROVIDER_HEADER):
                upstream = self._named_or_default(request)
            elif isinstance(model, str) and model:
                upstream = self._thrifty.providers.resolve(model)
                if upstream.settings.dialect != "openai":
                    raise BadRequest(
                        f"input_tokens is served for OpenAI-API models; {model[:64]!r} is "
                        f"served by provider {upstream.name!r}"
                    )
            else:
                raise BadRequest("'model' must be a non-empty string")
            path = "/responses/input_tokens"
            return await self._forward("POST /v1" + path, upstream, "POST", path, raw)
        except ThriftyError as exc:
            return _error(exc)

    def _named_or_default(self, request: Request) -> Upstream:
        return side_upstream(self._thrifty.providers, request.headers.get(PROVIDER_HEADER))

    async def _forward(
        self, route: str, upstream: Upstream, method: str, path: str, body: bytes | None
    ) -> Response:
        status, answer = await forward_side(upstream, method, path, body)
        self._count(route, upstream.name, status)
        headers = {PROVIDER_HEADER: upstream.name}
        return Response(answer, status_code=status, media_type=JSON_TYPE, headers=headers)

    def _count(self, route: str, provider: str, status: int) -> None:
        self.counts[route] += 1
        count = self.counts[route]
        log.debug("forwarded %s to %s: HTTP %d (not booked)", route, provider, status)
        if count == 1 or str(count).strip("0") == "1":
            log.info("forwarded %d %s call(s) so far (not booked: no tokens)", count, route)
