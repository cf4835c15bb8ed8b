"""The routes that read a body whole (side routes, count_tokens, batch submissions and
uploads: ``read_body``) read one of many small pieces in time in proportion to its size,
and refuse one over their limit, by its Content-Length or while reading."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from thrifty.errors import PayloadTooLarge
from thrifty.gateway.request_body import read_body


class PieceByPiece:
    """A request whose body arrives in ``count`` pieces of ``size`` bytes."""

    def __init__(self, count: int, size: int = 1, declared: str | None = None) -> None:
        self.count, self.size = count, size
        self.headers = {} if declared is None else {"content-length": declared}
        self.read = 0

    async def stream(self) -> AsyncIterator[bytes]:
        piece = b"x" * self.size
        for _ in range(self.count):
            self.read += 1
            yield piece


def read(count: int, size: int, max_body: int) -> bytes:
    return asyncio.run(read_body(cast(Any, PieceByPiece(count, size)), max_body))


@pytest.mark.timeout(30)
def test_a_body_of_many_small_pieces_is_read_whole() -> None:
    """8 MB in pieces of 8 bytes: each piece copied the bytes so far before (minutes)."""
    assert read(1024 * 1024, 8, 8 * 1024 * 1024) == b"x" * (8 * 1024 * 1024)


def test_a_body_at_the_limit_is_read_and_one_over_it_refused() -> None:
    assert read(10, 100, 1000) == b"x" * 1000
    with pytest.raises(PayloadTooLarge, match="over 999 bytes"):
        read(10, 100, 999)


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    request = PieceByPiece(10, 100, declared="1000")
    with pytest.raises(PayloadTooLarge, match="over 999 bytes"):
        asyncio.run(read_body(cast(Any, request), 999))
    assert request.read == 0


def test_reading_stops_at_the_first_piece_over_the_limit() -> None:
    request = PieceByPiece(1000, 100)
    with pytest.raises(PayloadTooLarge):
        asyncio.run(read_body(cast(Any, request), 1000))
    assert request.read == 11
