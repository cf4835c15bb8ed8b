"""Embeddings in the exact cache: memoized per input; only the inputs not stored go
upstream, in one call; the ledger books the stored ones as saved, priced by hand.

Rate: text-embedding-3-small $0.02 per million input tokens (genai-prices' bundled data).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.fewer_calls.cache import ExactCache
from thrifty.levers.fewer_calls.cache_embeddings import item_keys, share_out
from thrifty.levers.fewer_calls.cache_policy import policies_for
from thrifty.levers.fewer_calls.cache_store import Tally
from thrifty.pipeline import compose
from thrifty.store import MemoryCache
from thrifty.testing import FakeUpstream, accountant
from thrifty.types import ChatRequest, ChatResponse, Handler, Usage

MODEL = "text-embedding-3-small"
RATE = Decimal("0.02") / 1_000_000


def tokens_of(item: Any) -> int:
    return len(item) if isinstance(item, list) else len(item.split())


def vector_of(item: Any) -> list[float]:
    return [float(tokens_of(item)), float(len(str(item)) % 7), 0.5]


def embed(request: ChatRequest) -> ChatResponse:
    value = request.body["input"]
    single = isinstance(value, str) or (value and isinstance(value[0], int))
    items = [value] if single else value
    total = sum(tokens_of(i) for i in items)
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": n, "embedding": vector_of(item)}
            for n, item in enumerate(items)
        ],
        "model": MODEL,
        "usage": {"prompt_tokens": total, "total_tokens": total},
    }
    return ChatResponse(
        dialect="openai",
        model=MODEL,
        provider="openai",
        usage=Usage(input_tokens=total),
        body=body,
        served=request,
    )


def ask(value: Any, tenant: str | None = None, **extra: Any) -> ChatRequest:
    return ChatRequest(
        dialect="openai",
        api="embeddings",
        body={"model": MODEL, "input": value, **extra},
        model=MODEL,
        requested_model=MODEL,
        tenant=tenant,
        endpoint="/v1/embeddings",
    )


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[LedgerStore]:
    store = LedgerStore(tmp_path / "ledger.db")
    await store.open()
    yield store
    await store.close()


class Setup:
    def __init__(self, ledger: LedgerStore, answer: Any = embed) -> None:
        self.store, self.tally = MemoryCache(), Tally(None)
        self.upstream = FakeUpstream(answer)
        self.cache = ExactCache(self.store, policies_for(Settings()), self.tally)
        self.handler: Handler = compose(
            [ledger_stage(ledger, accountant()), self.cache], self.upstream
        )

    async def __call__(self, request: ChatRequest) -> ChatResponse:
        response = await self.handler(request)
        await self.cache.drain()
        return response


FIVE = ["alpha beta", "gamma", "delta epsilon zeta", "eta", "theta iota"]


async def test_only_the_inputs_not_stored_go_upstream_and_the_rest_is_booked_saved(
    ledger: LedgerStore,
) -> None:
    cached = Setup(ledger)
    await cached(ask([FIVE[0], FIVE[2], FIVE[4]]))  # 2 + 3 + 2 tokens stored
    response = await cached(ask(FIVE))
    assert cached.upstream.requests[1].body["input"] == [FIVE[1], FIVE[3]]
    assert response.headers["cache"] == "partial"
    assert response.body is not None
    assert [d["embedding"] for d in response.body["data"]] == [vector_of(t) for t in FIVE]
    assert [d["index"] for d in response.body["data"]] == [0, 1, 2, 3, 4]
    assert response.body["usage"] == {"prompt_tokens": 9, "total_tokens": 9}
    _, row = ledger.rows()
    assert row.cost_usd == 2 * RATE  # the call made: "gamma", "eta"
    assert row.baseline_usd == 9 * RATE  # all five
    assert row.savings == {"cache": 7 * RATE} and row.saved_usd == 7 * RATE
    assert row.detail == "cache: 3 of 5 inputs"


async def test_a_request_whose_inputs_are_all_stored_makes_no_call(ledger: LedgerStore) -> None:
    cached = Setup(ledger)
    first = await cached(ask(FIVE))
    assert first.headers["cache"] == "miss"
    again = await cached(ask(list(reversed(FIVE))))
    assert again.headers["cache"] == "hit" and again.served is None
    assert len(cached.upstream.requests) == 1
    assert again.body is not None
    assert [d["embedding"] for d in again.body["data"]] == [vector_of(t) for t in reversed(FIVE)]
    _, row = ledger.rows()
    assert row.cost_usd == 0 and row.calls == () and row.provider == "cache"
    assert row.savings == {"cache": 9 * RATE}


async def test_single_inputs_and_token_lists(ledger: LedgerStore) -> None:
    cached = Setup(ledger)
    await cached(ask("one two three"))
    await cached(ask([5, 6, 7, 8]))
    both = await cached(ask(["one two three", [5, 6, 7, 8], "new"]))
    assert cached.upstream.requests[2].body["input"] == ["new"]
    assert both.body is not None and both.body["usage"]["prompt_tokens"] == 3 + 4 + 1
    hit = await cached(ask([5, 6, 7, 8]))
    assert hit.headers["cache"] == "hit" and len(cached.upstream.requests) == 3


async def test_tenants_and_parameters_have_their_own_entries(ledger: LedgerStore) -> None:
    cached = Setup(ledger)
    await cached(ask("text", tenant="a"))
    assert (await cached(ask("text", tenant="b"))).headers["cache"] == "miss"
    assert (await cached(ask("text", tenant="a", dimensions=2))).headers["cache"] == "miss"
    assert (await cached(ask("text", tenant="a", user="u1"))).headers["cache"] == "hit"
    base64 = ask("text", tenant="a", encoding_format="base64")
    assert item_keys(base64, ["text"]) != item_keys(ask("text", tenant="a"), ["text"])


async def test_bypass_and_refresh(ledger: LedgerStore) -> None:
    cached = Setup(ledger)
    await cached(ask(FIVE[:2]))
    bypass = ask(FIVE[:2])
    bypass.metadata["cache"] = "bypass"
    assert (await cached(bypass)).headers["cache"] == "bypass"
    refresh = ask(FIVE[:2])
    refresh.metadata["cache"] = "refresh"
    assert (await cached(refresh)).headers["cache"] == "refresh"
    assert [r.body["input"] for r in cached.upstream.requests] == [FIVE[:2]] * 3


async def test_an_answer_that_cannot_be_merged_asks_for_everything(ledger: LedgerStore) -> None:
    def short(request: ChatRequest) -> ChatResponse:
        response = embed(request)
        if len(cached.upstream.requests) == 2:  # the partial call: one vector missing
            assert response.body is not None
            response.body["data"] = response.body["data"][:-1]
        return response

    cached = Setup(ledger, short)
    await cached(ask(FIVE[:1]))
    response = await cached(ask(FIVE[:3]))
    assert [r.body["input"] for r in cached.upstream.requests] == [FIVE[:1], FIVE[1:3], FIVE[:3]]
    assert response.headers["cache"] == "bypass" and response.body is not None
    assert len(response.body["data"]) == 3 and cached.tally["not_stored"] == 1


async def test_a_corrupt_vector_is_dropped_and_embedded_anew(ledger: LedgerStore) -> None:
    cached = Setup(ledger)
    await cached(ask("alpha"))
    [key] = item_keys(ask("alpha"), ["alpha"])
    await cached.store.set(key, b'{"v": 1, "embedding": [], "tokens": 1, "model": "m"}')
    response = await cached(ask("alpha"))
    assert response.headers["cache"] == "miss" and cached.tally["corrupt"] == 1
    assert (await cached(ask("alpha"))).headers["cache"] == "hit"


@pytest.mark.parametrize(
    ("total", "items", "shares"),
    [
        (10, ["a"], [10]),
        (10, ["aaaa", "a"], [8, 2]),
        (7, ["aa", "aa", "aa"], [3, 2, 2]),
        (5, [[1, 2], [3, 4, 5]], [2, 3]),
        (0, ["x", "y"], [0, 0]),
    ],
)
def test_a_calls_tokens_are_shared_out_exactly(
    total: int, items: list[Any], shares: list[int]
) -> None:
    assert share_out(total, items) == shares
    assert sum(share_out(total, items)) == total
