"""The side routes read a body of many small pieces in time in proportion to its size, and
refuse one over ``gateway.max_body_bytes``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from thrifty.errors import PayloadTooLarge
from thrifty.gateway.response_routes import ResponseSideRoutes


class PieceByPiece:
    """A request whose body arrives in ``count`` pieces of ``size`` bytes."""

    def __init__(self, count: int, size: int = 1) -> None:
        self.count, self.size = count, size

    async def stream(self) -> AsyncIterator[bytes]:
        piece = b"x" * self.size
        for _ in range(self.count):
            yield piece


def read(count: int, size: int, max_body: int) -> bytes:
    routes = cast(Any, SimpleNamespace(_max_body=max_body))
    return asyncio.run(ResponseSideRoutes._body(routes, cast(Any, PieceByPiece(count, size))))


@pytest.mark.timeout(30)
def test_a_body_of_many_small_pieces_is_read_whole() -> None:
    """8 MB in pieces of 8 bytes: each piece copied the bytes so far before (minutes)."""
    assert read(1024 * 1024, 8, 8 * 1024 * 1024) == b"x" * (8 * 1024 * 1024)


def test_a_body_at_the_limit_is_read_and_one_over_it_refused() -> None:
    assert read(10, 100, 1000) == b"x" * 1000
    with pytest.raises(PayloadTooLarge, match="over 999 bytes"):
        read(10, 100, 999)
