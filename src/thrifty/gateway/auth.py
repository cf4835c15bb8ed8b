"""Who may use the gateway: the checks run on every request before it is routed.

- With gateway keys (any active key in the store, or ``gateway.require_auth = true``), a
  request must carry a valid key as its usual API key (``Authorization: Bearer KEY`` or
  ``x-api-key: KEY``); otherwise 401.  The key's tenant is the tenant it is booked under.
- Without keys (which :func:`thrifty.cli` allows only on a loopback address), a request
  whose ``Host`` is not a loopback name (DNS rebinding) or that carries a browser ``Origin``
  that is not a loopback origin (a page on another site) is refused with 403.  There are no
  CORS headers at all, so a browser never lets another site read an answer.

The work per request is one pass over the headers, and with keys one SHA-256 and one dict
lookup (see :class:`thrifty.gateway.keys.ActiveKeys`): a few microseconds.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.types import Scope

from thrifty.errors import ThriftyError
from thrifty.gateway.keys import ActiveKeys
from thrifty.types import Dialect

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


class Unauthorized(ThriftyError):
    status = 401
    code = "invalid_api_key"
    openai_type = "authentication_error"
    anthropic_type = "authentication_error"


class Forbidden(ThriftyError):
    status = 403
    code = "forbidden"
    openai_type = "permission_error"
    anthropic_type = "permission_error"


class UnsupportedMediaType(ThriftyError):
    status = 415
    code = "unsupported_media_type"
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"


class MethodNotAllowed(ThriftyError):
    status = 405
    code = "method_not_allowed"
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"


def is_loopback_address(host: str) -> bool:
    """Is a bind address loopback-only (127.0.0.0/8, ::1, localhost)?"""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(value: str) -> str:
    """``Host`` header value without its port."""
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end != -1 else value
    return value.partition(":")[0]


def loopback_host(value: bytes) -> bool:
    return _host_name(value.decode("latin-1").strip().lower()) in LOOPBACK_NAMES


def loopback_origin(value: bytes) -> bool:
    text = value.decode("latin-1").strip().lower()
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("http", "https") or "/" in rest or "@" in rest:
        return False
    return _host_name(rest) in LOOPBACK_NAMES


def json_content_type(value: bytes | None) -> bool:
    """JSON, or no Content-Type at all (SDKs and curl --json always send one; a browser
    cannot get here cross-origin)."""
    if value is None:
        return True
    media = value.partition(b";")[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


@dataclass(slots=True)
class Verdict:
    """What the checks decided: ``error`` to refuse, else the key's tenant (if any)."""

    error: ThriftyError | None = None
    tenant: str | None = None
    content_type: bytes | None = None
    anthropic: bool = False  # an anthropic-version header: answer errors in that dialect


class Guard:
    def __init__(self, keys: ActiveKeys, *, require_auth: bool) -> None:
        self.keys = keys
        self.require_auth = require_auth

    @property
    def auth_required(self) -> bool:
        return self.require_auth or self.keys.exist

    def check(self, scope: Scope) -> Verdict:
        self.keys.refresh()
        host = origin = content_type = None
        candidates: list[bytes] = []
        anthropic = False
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"content-type":
                content_type = value
            elif name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    candidates.append(token.strip())
            elif name == b"x-api-key":
                candidates.append(value.strip())
            elif name == b"anthropic-version":
                anthropic = True
        verdict = Verdict(content_type=content_type, anthropic=anthropic)
        if self.auth_required:
            for key in candidates:
                tenant = self.keys.tenant(key)
                if tenant is not None:
                    verdict.tenant = tenant
                    return verdict
            what = "an invalid" if candidates else "no"
            verdict.error = Unauthorized(
                f"{what} gateway key: send a key from `thrifty keys create` as the API key "
                "(Authorization: Bearer KEY or x-api-key: KEY)"
            )
            return verdict
        if host is not None and not loopback_host(host):
            verdict.error = Forbidden(
                "this gateway has no keys, so it answers only requests addressed to a "
                "loopback name (127.0.0.1, localhost, [::1]); create a key with "
                "`thrifty keys create --tenant NAME` to accept others"
            )
        elif origin is not None and not loopback_origin(origin):
            verdict.error = Forbidden(
                "cross-origin browser requests are refused: this gateway has no keys "
                "(create one with `thrifty keys create --tenant NAME`)"
            )
        return verdict


def dialect_of(path: str, anthropic_header: bool) -> Dialect:
    if path.startswith("/v1/messages") or anthropic_header:
        return "anthropic"
    return "openai"
