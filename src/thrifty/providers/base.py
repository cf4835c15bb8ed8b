"""What every HTTP provider shares: one POST, error mapping, JSON or SSE answer.

A dialect subclass (OpenAI-compatible, Anthropic) says where to send the body, with which
headers, how to read usage and how to follow its stream.  When the app's dialect differs
from the provider's, the subclass translates at this boundary, so the returned
:class:`ChatResponse` is always in ``request.dialect``.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
import orjson

from thrifty.config import ProviderSettings
from thrifty.dialects._common import shape_message
from thrifty.errors import (
    BadRequest,
    ConfigError,
    ThriftyError,
    UpstreamTimeout,
    UpstreamUnavailable,
    redact,
)
from thrifty.providers._http import (
    HttpPool,
    error_from_event,
    error_from_exception,
    error_from_status,
    read_capped,
)
from thrifty.providers.finish import truncated_answer
from thrifty.providers.http1 import AnswerTooLarge, Http1Error, Response, ServerDisconnected
from thrifty.providers.skim import skim
from thrifty.providers.streaming import (
    StreamDeadlines,
    StreamHandler,
    UpstreamStream,
    upstream_events,
)
from thrifty.types import (
    JSON,
    ChatRequest,
    ChatResponse,
    Dialect,
    Usage,
)

__all__ = ["BaseProvider", "StreamHandler", "UpstreamStream"]  # the last two from .streaming

# The beta-feature header each API reads; an app's header is sent to its own API only.
log = logging.getLogger("thrifty.providers")

_BETA_HEADER: dict[Dialect, str] = {"anthropic": "anthropic-beta", "openai": "openai-beta"}


MAX_REQUEST_ID = 128
# The largest answer read whole (a chat answer, or one `forward` passes on: a stored
# response or its input items may hold images, base64, up to the API's 50 MB request
# limit); more is refused, never buffered.  An error answer is read up to MAX_ERROR_BYTES.
MAX_FORWARDED_BYTES = 64 * 1024 * 1024
MAX_ERROR_BYTES = 1024 * 1024
_MAX_UNSENT_ATTEMPTS = 4  # after a burst, several pooled connections may be stale at once


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its ``user:pass@`` part, and that part (decoded) if it had one."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port is not None else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, (unquote(parts.username or ""), unquote(parts.password or ""))


def upstream_request_id(headers: Mapping[str, str]) -> str | None:
    """The provider's id for this request (OpenAI ``x-request-id``, Anthropic
    ``request-id``), bounded; ``None`` when it sent none."""
    value = headers.get("x-request-id") or headers.get("request-id")
    return value[:MAX_REQUEST_ID] if value else None


class BaseProvider:
    dialect: ClassVar[Dialect]
    path: ClassVar[str]

    def __init__(
        self, name: str, settings: ProviderSettings, pool: HttpPool, *, api_key: str | None
    ) -> None:
        self.name = name
        self.settings = settings
        self._pool = pool
        self._api_key = api_key
        base, userinfo = split_userinfo(settings.base_url)
        self._base_url = base
        self._url = base + self.path
        self._headers = {"Content-Type": "application/json", **self._auth_headers(api_key)}
        if userinfo is not None:
            # `http://user:pass@host`: HTTP Basic auth, sent as a header (aiohttp refuses a
            # URL with credentials next to an Authorization header), never shown anywhere.
            if "Authorization" in self._headers:
                raise ConfigError(
                    f"provider {name!r}: its base_url carries credentials (user:pass@) and its "
                    "API key is sent in the Authorization header too; one request cannot "
                    "carry both. Drop one of them."
                )
            token = base64.b64encode(":".join(userinfo).encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        # timeout_s caps every wait, so one small value tightens them all.
        cap = settings.timeout_s
        self._connect_timeout_s = min(settings.connect_timeout_s, cap)
        self._first_byte_timeout_s = min(settings.first_byte_timeout_s, cap)
        self._stream_idle_timeout_s = min(settings.stream_idle_timeout_s, cap)
        # A non-streamed answer arrives all at once (headers included) when the model is
        # done, so only its total is bounded: a reasoning model may think for minutes.
        self._timeout = aiohttp.ClientTimeout(total=cap, sock_connect=self._connect_timeout_s)
        # A stream may legitimately last long (stream_timeout_s); what must stay short is
        # the wait for its headers (first_byte_timeout_s, in _post) and the silence between
        # two reads (stream_idle_timeout_s, in _events).

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self._url}>"

    # -- dialect hooks -------------------------------------------------------------------

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        raise NotImplementedError

    def _prepare(self, request: ChatRequest, translate: bool) -> JSON:
        """The upstream body, in this provider's dialect, with ``model`` written in."""
        raise NotImplementedError

    def _url_for(self, request: ChatRequest) -> str:
        """Where ``request`` is sent: the chat path, unless the dialect serves more APIs."""
        return self._url

    def _usage(self, body: JSON, request: ChatRequest) -> Usage:
        raise NotImplementedError

    def _translate_response(self, body: JSON, usage: Usage, request: ChatRequest) -> JSON:
        raise NotImplementedError

    def _billing(
        self, body: JSON, request: ChatRequest, model: str
    ) -> tuple[str | None, dict[str, int]]:
        """The service tier the answer reports and the server tools it billed."""
        raise NotImplementedError

    def _stream_handler(
        self, request: ChatRequest, response: ChatResponse, translate: bool
    ) -> StreamHandler:
        raise NotImplementedError

    # -- the call ------------------------------------------------------------------------

    async def __call__(self, request: ChatRequest) -> ChatResponse:
        if request.api != "chat" and self.dialect != "openai":
            raise BadRequest(
                f"the {request.api} API is served by OpenAI-compatible providers only; model "
                f"{request.model[:64]!r} is served by provider {self.name!r} ({self.dialect})"
            )
        translate = request.dialect != self.dialect
        try:
            payload = orjson.dumps(self._prepare(request, translate))
        except (AttributeError, TypeError, ValueError, KeyError):
            # A body of the right JSON type but the wrong shape inside (a number where a
            # list of parts belongs...): the app's mistake, not a server error.
            raise BadRequest(shape_message(request.dialect, self.dialect, translate)) from None
        started = time.perf_counter()
        headers = self._headers
        if request.upstream_headers:
            # Each beta header goes to its own API only (anthropic-beta to Anthropic).
            own = _BETA_HEADER[self.dialect]
            extra = {k: v for k, v in request.upstream_headers if k not in _BETA_HEADER.values()}
            extra.update((k, v) for k, v in request.upstream_headers if k == own)
            if extra:
                headers = {**self._headers, **extra}
        resp = await self._post(self._url_for(request), payload, headers, request.stream)
        request_id = upstream_request_id(resp.headers)
        if resp.status >= 300:
            try:
                raw = await resp.read(MAX_ERROR_BYTES)
            except (Http1Error, TimeoutError):  # an error answer too large: its status alone
                raw = b""
            finally:
                resp.release()
            error = error_from_status(
                resp.status, resp.headers, raw, provider=self.name, api_key=self._api_key
            )
            error.upstream_request_id = request_id
            error.upstream_dialect = self.dialect
            raise error
        if request.stream:
            response = ChatResponse(
                dialect=request.dialect,
                model=request.model,
                provider=self.name,
                upstream_request_id=request_id,
                usage_reported=False,  # until the upstream's usage event arrives
                upstream_latency_s=time.perf_counter() - started,
            )
            handler = self._stream_handler(request, response, translate)
            deadlines = StreamDeadlines(
                idle_s=self._stream_idle_timeout_s, total_s=self.settings.stream_timeout_s
            )
            events = upstream_events(self.name, resp, response, handler, started, deadlines)
            response.stream = UpstreamStream(resp, events, handler.settle)
            return response
        try:
            raw = await resp.read(MAX_FORWARDED_BYTES)
        except AnswerTooLarge:
            raise _reached(self._too_large(""), request.model) from None
        except TimeoutError:
            raise _reached(
                UpstreamTimeout(
                    f"{self.name} did not finish its answer within {self.settings.timeout_s}s",
                    provider=self.name,
                ),
                request.model,
            ) from None
        except Http1Error as exc:
            raise _reached(
                UpstreamUnavailable(
                    redact(
                        f"{self.name} broke off its answer: {type(exc).__name__}", self._api_key
                    ),
                    provider=self.name,
                ),
                request.model,
            ) from None
        finally:
            resp.release()
        latency = time.perf_counter() - started
        if request.api == "embeddings" and not translate:
            # A large answer's vectors are parsed only if a stage reads them.
            skimmed = skim(raw)
            if skimmed is not None:
                return ChatResponse(
                    dialect=request.dialect,
                    model=skimmed.model or request.model,
                    provider=self.name,
                    usage=self._usage({"usage": skimmed.usage}, request),
                    raw_body=raw,
                    upstream_latency_s=latency,
                    upstream_request_id=request_id,
                )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise _reached(
                UpstreamUnavailable(
                    f"{self.name} answered HTTP {resp.status} with a body that is not a JSON "
                    "object",
                    provider=self.name,
                ),
                request.model,
            )
        usage = self._usage(body, request)
        usage_reported = isinstance(body.get("usage"), dict)
        model = body.get("model")
        model = model if isinstance(model, str) and model else request.model
        tier, tools = self._billing(body, request, model)
        truncated = truncated_answer(self.dialect, request.api, body)  # before translation
        if translate:
            body = self._translate_response(body, usage, request)
        return ChatResponse(
            dialect=request.dialect,
            model=model,
            provider=self.name,
            usage=usage,
            usage_reported=usage_reported,
            body=body,
            upstream_latency_s=latency,
            service_tier=tier,
            server_tools=tools,
            upstream_request_id=request_id,
            truncated=truncated,
            # Embeddings are passed on as they came (megabytes of floats are not written
            # again); other answers are few kilobytes, and levers may rewrite them.
            raw_body=raw if request.api == "embeddings" and not translate else None,
        )

    async def _post(
        self, url: str, payload: bytes, headers: dict[str, str], stream: bool
    ) -> Response:
        """POST; again once if the server dropped the connection before answering.

        A pooled keep-alive connection the server closed while idle (a close a busy loop
        may notice late) never processed the request: it is sent again (the pool skips
        connections it already knows are closed).  A server that read the request, then
        dropped the connection, cannot be told apart: it may be processed twice, as an
        SDK's own retry would.  Other failures are typed errors.
        """
        disconnects = 0
        for attempt in range(1, _MAX_UNSENT_ATTEMPTS + 1):
            try:
                if not stream:  # the whole exchange, answer included, within timeout_s
                    return await self._pool.http1().request(
                        "POST",
                        url,
                        payload,
                        headers,
                        connect_timeout_s=self._connect_timeout_s,
                        total_timeout_s=self.settings.timeout_s,
                    )
                # A stream's head comes as soon as the upstream accepts the request.
                return await self._pool.http1().request(
                    "POST",
                    url,
                    payload,
                    headers,
                    connect_timeout_s=self._connect_timeout_s,
                    total_timeout_s=self.settings.stream_timeout_s,
                    head_timeout_s=self._first_byte_timeout_s,
                )
            except ServerDisconnected as exc:
                disconnects += 1
                # A kept-alive connection closed by the server as it sat idle (stale: after
                # a burst, several may be at once), or the first drop of a fresh one.
                if (exc.reused or disconnects == 1) and attempt < _MAX_UNSENT_ATTEMPTS:
                    continue
                # A fresh connection dropped after the request was written to it: the
                # server may have processed it.
                raise error_from_exception(
                    exc, provider=self.name, api_key=self._api_key, url=url
                ) from None
            except (Http1Error, TimeoutError) as exc:
                error = error_from_exception(
                    exc, provider=self.name, api_key=self._api_key, url=url
                )
                if stream and type(exc) is TimeoutError:  # asyncio.timeout: no headers yet
                    text = (
                        f"{self.name} sent no response headers within {self._first_byte_timeout_s}s"
                    )
                    error.message, error.args = text, (text,)
                raise error from None
        raise AssertionError("unreachable")

    async def forward(
        self, path: str, payload: bytes | None, method: str = "POST"
    ) -> tuple[int, bytes]:
        """Send ``payload`` as is to ``path`` under this provider's base URL (with its key)
        and return (status, body): for free auxiliary endpoints such as Anthropic's
        ``count_tokens`` or the Responses API's retrieve/delete/cancel.  An error body is
        scrubbed of this provider's key (and anything shaped like a key).  Connection
        failures raise typed errors as chat calls do; an answer over
        :data:`MAX_FORWARDED_BYTES` is a 502 naming the provider (logged), never buffered."""
        url = self._base_url + path
        try:
            async with self._pool.session().request(
                method,
                url,
                data=payload,
                headers=self._headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                answer = await read_capped(resp, MAX_FORWARDED_BYTES)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise error_from_exception(
                exc, provider=self.name, api_key=self._api_key, url=url
            ) from None
        if answer is None:
            raise self._too_large(f" {method} {path.split('?')[0][:200]}")
        if resp.status >= 400:
            answer = redact(answer.decode("utf-8", "replace"), self._api_key).encode()
        return resp.status, answer

    def _too_large(self, what: str) -> UpstreamUnavailable:
        """An answer over :data:`MAX_FORWARDED_BYTES` (to ``what``: a method and path, or
        nothing for a chat call), logged; it names the provider, never its URL."""
        text = (
            f"{self.name} answered{what} with more than {MAX_FORWARDED_BYTES // (1024 * 1024)} "
            "MiB; the gateway does not pass on an answer that large (it was dropped unread)"
        )
        log.warning("%s", text)
        return UpstreamUnavailable(text, provider=self.name)

    def stream_error(self, payload: JSON) -> ThriftyError:
        return error_from_event(payload, provider=self.name, api_key=self._api_key)


def _reached(error: ThriftyError, model: str) -> ThriftyError:
    """``error``, marked as a failure after the request reached the upstream."""
    error.reached_upstream = True
    error.model = model
    return error
