"""Reading a request's body with a bound: the routes that read it whole (side routes,
``count_tokens``, batch submissions and uploads) stop at their limit instead of holding
whatever a client sends."""

from __future__ import annotations

from starlette.requests import Request

from thrifty.errors import PayloadTooLarge

__all__ = ["read_body"]


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or :class:`~thrifty.errors.PayloadTooLarge` as soon as it is known to be
    over ``limit`` bytes (by its ``Content-Length``, or while reading: never more than
    ``limit`` is held).  Pieces are joined once at the end (adding each piece to the bytes
    so far would copy them again: time in the square of the number of pieces)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is over {limit} bytes")
    pieces: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes")
        pieces.append(chunk)
    return b"".join(pieces)
