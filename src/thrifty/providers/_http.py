"""The pooled HTTP client and the mapping of upstream failures to typed errors."""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import orjson

from thrifty.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamOverloaded,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    redact,
)
from thrifty.providers.http1 import ConnectFailed
from thrifty.providers.http1_pool import Http1Pool

__all__ = [
    "HttpPool",
    "error_from_event",
    "error_from_exception",
    "error_from_status",
    "never_written",
    "reached_upstream",
]

_MAX_ERROR_MESSAGE = 500


class HttpPool:
    """One pooled :class:`aiohttp.ClientSession` shared by every provider.

    The session is created lazily, inside the running event loop, on first use; a pool
    used from a different loop (a new test, a restarted runtime) gets a fresh session.
    """

    def __init__(
        self,
        *,
        limit: int = 256,
        limit_per_host: int = 0,
        keepalive_timeout: float = 30.0,
        trust_env: bool = False,
    ) -> None:
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._keepalive_timeout = keepalive_timeout
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http1: Http1Pool | None = None
        self._http1_loop: asyncio.AbstractEventLoop | None = None

    @property
    def limit(self) -> int:
        """Connections (upstream calls in flight) the pool holds at most."""
        return self._limit

    def session(self) -> aiohttp.ClientSession:
        session = self._session
        loop = asyncio.get_running_loop()
        if session is not None and not session.closed:
            if loop is self._loop:
                return session
            # Used from another event loop: the old session's sockets belong to that loop.
            # Close them without awaiting anything on this one.
            if session.connector is not None:
                session.connector._close()  # sync close; the session then counts as closed
        self._loop = loop
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit_per_host,
            keepalive_timeout=self._keepalive_timeout,
            ttl_dns_cache=300,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            trust_env=self._trust_env,
            headers={"User-Agent": "thrifty"},
            # Provider cookies (load-balancer affinity and the like) are not kept: they would
            # be shared across every app behind the gateway, and parsing them costs CPU.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._session = session
        return session

    def http1(self) -> Http1Pool:
        """The lean client for chat calls (:mod:`thrifty.providers.http1`), one per loop."""
        loop = asyncio.get_running_loop()
        pool = self._http1
        if pool is not None and self._http1_loop is loop:
            return pool
        if pool is not None:
            pool.close()
        pool = Http1Pool(
            limit=self._limit, keepalive_timeout_s=self._keepalive_timeout, user_agent="thrifty"
        )
        self._http1, self._http1_loop = pool, loop
        return pool

    async def aclose(self) -> None:
        if self._http1 is not None:
            self._http1.close()
            self._http1 = None
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


def _retry_after(headers: Mapping[str, str]) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _clip(text: str) -> str:
    """Shorten an error message: only AFTER redacting it, or a key cut in two would no longer
    match and its first half would leak."""
    return text if len(text) <= _MAX_ERROR_MESSAGE else text[:_MAX_ERROR_MESSAGE] + "..."


def _error_message(body: bytes) -> tuple[str, str | None]:
    """The message and error type from an OpenAI or Anthropic JSON error body."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text, None
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(err, dict):
        message = err.get("message")
        kind = err.get("type")
        return (
            str(message) if message is not None else "",
            kind if isinstance(kind, str) else None,
        )
    if isinstance(err, str):
        return err, None
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return (str(message) if message else ""), None


_MAX_PASSED_ERROR = 8192


def _passable_error(body: bytes, api_key: str | None) -> dict[str, Any] | None:
    """The upstream's error body, keys scrubbed, if it is an OpenAI (``{"error": {...}}``)
    or Anthropic (``{"type": "error", "error": {...}}``) error object of a sane size."""
    if len(body) > _MAX_PASSED_ERROR:
        return None
    text = redact(body.decode("utf-8", "replace"), api_key)
    try:
        parsed: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return parsed
    return None


def error_from_status(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str,
    api_key: str | None,
) -> UpstreamError:
    """The typed error for an upstream HTTP error response, keeping its status and (keys
    scrubbed) the upstream's own error body for apps of the same dialect."""
    error = _typed_error(status, headers, body, provider=provider, api_key=api_key)
    if status >= 400:
        error.upstream_error = _passable_error(body, api_key)
    return error


def _typed_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str,
    api_key: str | None,
) -> UpstreamError:
    message, kind = _error_message(body)
    text = _clip(
        redact(f"{provider} returned HTTP {status}" + (f": {message}" if message else ""), api_key)
    )
    if status < 400:
        return UpstreamUnavailable(text + " (unexpected redirect)", status=502, provider=provider)
    if status in (401, 403):
        return UpstreamAuthError(text, status=status, provider=provider)
    if status == 429:
        return UpstreamRateLimited(
            text, status=429, provider=provider, retry_after_s=_retry_after(headers)
        )
    if status == 529 or kind == "overloaded_error":
        return UpstreamOverloaded(text, status=status, provider=provider)
    if status == 408 or status == 504:
        return UpstreamTimeout(text, status=status, provider=provider)
    if status >= 500:
        return UpstreamUnavailable(text, status=status, provider=provider)
    return UpstreamBadRequest(text, status=status, provider=provider)


_EVENT_ERRORS: dict[str, tuple[type[UpstreamError], int]] = {
    "overloaded_error": (UpstreamOverloaded, 529),
    "rate_limit_error": (UpstreamRateLimited, 429),
    "api_error": (UpstreamUnavailable, 500),
    "server_error": (UpstreamUnavailable, 500),
    "timeout_error": (UpstreamTimeout, 504),
    "authentication_error": (UpstreamAuthError, 401),
    "permission_error": (UpstreamAuthError, 403),
    "invalid_request_error": (UpstreamBadRequest, 400),
    "not_found_error": (UpstreamBadRequest, 404),
    "request_too_large": (UpstreamBadRequest, 413),
}


def error_from_event(
    payload: Mapping[str, Any], *, provider: str, api_key: str | None
) -> UpstreamError:
    """The typed error for an error sent inside a stream (Anthropic ``event: error``,
    or an OpenAI-compatible ``data: {"error": ...}``)."""
    err = payload.get("error")
    message = ""
    kind = None
    if isinstance(err, Mapping):
        message = str(err.get("message") or "")
        kind = err.get("type") if isinstance(err.get("type"), str) else None
    elif isinstance(err, str):
        message = err
    cls, status = _EVENT_ERRORS.get(kind or "", (UpstreamUnavailable, 502))
    text = _clip(
        redact(f"{provider} sent an error mid-stream ({kind or 'error'}): {message}", api_key)
    )
    return cls(text, status=status, provider=provider)


def error_from_exception(
    exc: BaseException, *, provider: str, api_key: str | None, url: str
) -> UpstreamError:
    """The typed error for a transport failure before a response arrived.

    ``reached_upstream`` is set when the failure came after the connection was made, so
    the request was (at least partly) written and the provider may have processed it: a
    timeout waiting for the answer's headers, a connection reset or dropped after the
    request went out.  Failures to connect (refused, DNS, TLS, connect timeout) leave it
    False.
    """
    # The provider's name, never its URL: a base_url may carry credentials
    # (http://user:pass@host), and the message reaches the app and the ledger.
    said = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    detail = _strip_userinfo(redact(said, api_key, *_userinfo(url)))
    error: UpstreamError
    if isinstance(exc, TimeoutError):
        error = UpstreamTimeout(
            f"{provider} did not answer in time: {detail}", status=504, provider=provider
        )
    else:
        error = UpstreamUnavailable(
            f"could not reach {provider}: {detail}", status=502, provider=provider
        )
    error.reached_upstream = reached_upstream(exc)
    return error


_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def _userinfo(url: str) -> tuple[str, ...]:
    """The credentials in ``url`` (user, password, both), to redact verbatim."""
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return ()
    info = netloc.rpartition("@")[0]
    user, _, password = info.partition(":")
    return tuple(s for s in (info, unquote(info), password, unquote(password)) if len(s) >= 3) + (
        (user,) if len(user) >= 3 else ()
    )


def _strip_userinfo(text: str) -> str:
    return _USERINFO.sub("[redacted]@", text)


# Failures before the request could be written: nothing reached the provider.  (aiohttp
# raises ConnectionTimeoutError for any timeout while getting a connection, total
# timeout included.)
_NOT_SENT = (
    ConnectFailed,  # the lean client's: refused, DNS, TLS, unreachable, connect timeout
    aiohttp.ClientConnectorError,  # refused, DNS, TLS, unreachable
    aiohttp.ConnectionTimeoutError,
    aiohttp.InvalidURL,
    aiohttp.ServerFingerprintMismatch,
)


def reached_upstream(exc: BaseException) -> bool:
    """Did the request reach the provider before ``exc`` (raised while sending it and
    waiting for the answer's headers)?  True unless the connection was never made."""
    return not isinstance(exc, _NOT_SENT)


def never_written(exc: BaseException) -> bool:
    """Was the pooled connection already closing when the request was to be written (the
    server closed it while idle, and the busy event loop had not yet noticed)?  Then
    nothing was sent, and the request can go again on a fresh connection."""
    return isinstance(exc, aiohttp.ClientOSError) and isinstance(
        exc.__cause__, aiohttp.ClientConnectionResetError
    )


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The answer's body, or ``None`` as soon as it is known to exceed ``limit`` bytes
    (by its ``Content-Length``, or while reading): never more than ``limit`` is held."""
    if resp.content_length is not None and resp.content_length > limit:
        return None
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(1024 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)
