"""The headers of the gateway's answers: what thrifty did (``x-thrifty-*``), the upstream's
request id where each SDK looks for it, and header values any client can read."""

from __future__ import annotations

import string
from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import quote

from thrifty.ledger.money import usd_text
from thrifty.requests import MAX_MODEL_CHARS, check_label
from thrifty.runtime import tenant_of
from thrifty.types import ChatRequest, ChatResponse, Dialect

Headers = list[tuple[bytes, bytes]]
JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def _usd(value: Decimal | None) -> str:
    return "unpriced" if value is None else usd_text(value)


# Where each SDK looks for the provider's request id (`response._request_id`).
REQUEST_ID_HEADER: dict[Dialect, str] = {"openai": "x-request-id", "anthropic": "request-id"}


def thrifty_headers(
    request: ChatRequest, response: ChatResponse, money: list[tuple[str, str]] | None = None
) -> dict[str, str]:
    """What thrifty did, as ``x-thrifty-*`` headers (``money``: :func:`money_headers` of
    ``response``, if the caller has them already)."""
    headers = {
        "x-thrifty-request-id": request.request_id,
        # The model the upstream reported, clipped as the ledger clips it: a server that
        # names a 200 KB model must not make a header no client can read.
        "x-thrifty-model": response.model[:MAX_MODEL_CHARS],
        "x-thrifty-provider": response.provider,
        # Each lever once, in the order it first acted (a lever may book several steps).
        "x-thrifty-levers": ",".join(dict.fromkeys(s.lever for s in response.steps)) or "none",
    }
    for name, value in money_headers(response) if money is None else money:
        headers[f"x-thrifty-{name}"] = value
    for name, value in response.headers.items():
        headers[f"x-thrifty-{name}"] = value
    if response.upstream_request_id:
        headers[REQUEST_ID_HEADER[request.dialect]] = response.upstream_request_id
    return headers


def money_headers(response: ChatResponse) -> list[tuple[str, str]]:
    """(name, text) of what is known only once the answer is: cost, baseline and saved (as
    far as they are known yet), and ``truncated`` when the upstream said the answer was cut
    by its length limit (whatever levers are on).  A stream's head leaves before its end:
    these go in its final SSE comment too."""
    money: list[tuple[str, str]] = []
    if response.cost is not None:
        money.append(("cost-usd", _usd(response.cost.usd)))
    if response.baseline is not None:
        money.append(("baseline-usd", _usd(response.baseline.usd)))
    if response.cost is not None and response.baseline is not None:
        money.append(("saved-usd", _usd(response.saved)))
    if response.cost is not None and response.cost.estimated:
        money.append(("cost-estimated", "true"))  # from token counts thrifty estimated
    if response.truncated:
        money.append(("truncated", "true"))
    return money


# Kept as they are in a header value that is not printable ASCII; everything else (and "%")
# is percent-encoded as UTF-8, so a model name an upstream reports as "gpt-é" is sent as
# "gpt-%C3%A9" and a CR/LF can never split a header.
_HEADER_SAFE = "".join(c for c in string.printable if c not in "%\t\n\r\x0b\x0c")


def header_value(value: str) -> bytes:
    """``value`` as a header value that any client can read: printable ASCII as is, else
    percent-encoded."""
    if value.isascii() and value.isprintable():
        return value.encode("ascii")
    return quote(value, safe=_HEADER_SAFE).encode("ascii")


def encode_headers(headers: dict[str, str]) -> Headers:
    return [(k.encode("ascii"), header_value(v)) for k, v in headers.items()]


def app_key(value: bytes) -> bytes:
    """The app's key in an ``Authorization`` or ``x-api-key`` header value: the token of a
    ``Bearer`` value, else the whole value."""
    scheme, _, token = value.partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else value.strip()


def tenant_from_headers(raw: Iterable[tuple[bytes, bytes]], tenant_header: str) -> str | None:
    """The tenant a request on a non-chat route is booked and checked under, derived as the
    chat routes derive it (the same rules, in header order, the last one read winning):
    the ``tenant_header`` (validated), else a fingerprint of the app's key
    (:func:`app_key` of ``Authorization`` or ``x-api-key``).  With gateway keys on, the
    key's tenant replaced the header before the request got here."""
    wanted = tenant_header.lower().encode("latin-1")
    tenant: str | None = None
    key: bytes | None = None
    for name, value in raw:
        if name == wanted:
            tenant = value.decode("latin-1")
            check_label(f"the {tenant_header} header", tenant)
        elif name in (b"x-api-key", b"authorization"):
            key = app_key(value)
    return tenant_of(tenant, key)
