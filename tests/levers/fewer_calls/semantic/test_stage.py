"""The stage with the test kit's FakeUpstream: hits, misses, vetoes, explorations, streams,
tenant isolation and the per-request controls, each booked by the real ledger stage."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Usage

from .conftest import MakeCache

STORED = Usage(input_tokens=1000, output_tokens=200)  # gpt-4o: $0.0045 (2.50 in, 10 out)
BASELINE = Decimal("0.0045")


@pytest.fixture
async def ledger(tmp_path: Path) -> Iterator[LedgerStore]:
    store = LedgerStore(tmp_path / "ledger.db")
    await store.open()
    yield store  # type: ignore[misc]
    await store.close()


def answering(text: str = "Paris.", usage: Usage = STORED) -> FakeUpstream:
    return FakeUpstream(lambda req: reply(req, text, usage))


def ask(text: str, **kwargs: object) -> ChatRequest:
    return request_for("gpt-4o", text, **kwargs)  # type: ignore[arg-type]


async def test_a_similar_query_is_a_hit_that_books_the_avoided_call(
    make_cache: MakeCache, ledger: LedgerStore
) -> None:
    upstream = answering()
    handler = compose([ledger_stage(ledger, accountant()), make_cache()], upstream)
    first = await handler(ask("what is the capital of france"))
    assert first.headers["semantic-cache"] == "miss"
    second = await handler(ask("what is the capital city of france"))
    assert len(upstream.requests) == 1
    assert second.headers["semantic-cache"] == "hit"
    assert 0.8 <= float(second.headers["semantic-similarity"]) < 1
    assert second.body is not None
    assert second.body["choices"][0]["message"]["content"] == "Paris."
    assert second.served is None
    rows = ledger.rows()
    assert rows[1].cost_usd == 0
    assert rows[1].baseline_usd == BASELINE
    assert rows[1].savings == {"semantic_cache": BASELINE}
    assert rows[0].savings == {} and rows[0].cost_usd == BASELINE


async def test_a_guarded_trap_is_a_miss(make_cache: MakeCache) -> None:
    upstream = answering("Dark mode is on.")
    handler = make_cache(threshold=0.5)(upstream)
    await handler(ask("turn on dark mode"))
    response = await handler(ask("turn off dark mode"))
    assert len(upstream.requests) == 2
    assert response.headers["semantic-cache"] == "veto-polarity"


async def test_below_the_threshold_is_a_near_miss_that_teaches_the_entry(
    make_cache: MakeCache,
) -> None:
    cache = make_cache(threshold=0.99)
    handler = cache(answering("Paris."))
    await handler(ask("what is the capital of france"))
    response = await handler(ask("what is the capital city of france"))
    assert response.headers["semantic-cache"] == "near"
    (entry, _), *_ = cache.store.nearest("x", cache.embedder.embed(["a"])[0]) or [(None, 0)]
    assert entry is None  # another partition is empty
    # The first entry was found right (same answer) at the near miss's similarity.
    lookup_vector = cache.embedder.embed(["what is the capital of france"])[0]
    stored = {e.query: e for e, _ in _all(cache, lookup_vector)}
    assert stored["what is the capital of france"].agreed == 1
    assert "what is the capital city of france" in stored  # the new query got its own entry


def _all(cache, vector):  # type: ignore[no-untyped-def]
    partitions = cache.store._db.execute("SELECT DISTINCT partition FROM entries").fetchall()
    return [pair for (p,) in partitions for pair in cache.store.nearest(p, vector, count=10)]


async def test_an_entry_learns_its_own_threshold(make_cache: MakeCache) -> None:
    """Found right by two near misses (at about 0.93), the entry is then served at that
    similarity although the task's threshold is 0.99."""
    cache = make_cache(threshold=0.99, min_similarity=0.5)
    upstream = answering("Paris.")
    handler = cache(upstream)
    await handler(ask("what is the capital of france"))
    for word in ("city", "town"):
        near = await handler(ask(f"what is the {word} capital of france"))
        assert near.headers["semantic-cache"] == "near"
    calls = len(upstream.requests)
    served = await handler(ask("what is the village capital of france"))
    assert served.headers["semantic-cache"] == "hit" and len(upstream.requests) == calls
    vector = cache.embedder.embed(["what is the capital of france"])[0]
    learnt = {e.query: e for e, _ in _all(cache, vector)}["what is the capital of france"]
    assert learnt.agreed == 2 and learnt.lowest_agreed is not None
    assert learnt.lowest_agreed < 0.99


async def test_an_entry_found_wrong_is_not_served_at_that_similarity(make_cache: MakeCache) -> None:
    texts = iter(["Paris.", "Lyon.", "Lyon."])
    cache = make_cache(threshold=0.8, explore_rate=1.0, random=lambda: 0.0)
    upstream = FakeUpstream(lambda req: reply(req, next(texts), STORED))
    handler = cache(upstream)
    await handler(ask("what is the capital of france"))
    explored = await handler(ask("what is the capital city of france"))
    assert explored.headers["semantic-cache"] == "explore"
    assert explored.headers["semantic-error-estimate"].endswith("n=1")
    assert cache.tally(None).explored == 1 and cache.tally(None).wrong == 1
    assert explored.body is not None and "Lyon" in str(explored.body)
    # Found wrong at this similarity: the same query is not served from it again (it now
    # has its own entry, which is served instead).
    vector = cache.embedder.embed(["what is the capital of france"])[0]
    first = {e.query: e for e, _ in _all(cache, vector)}["what is the capital of france"]
    assert first.wrong == 1 and first.highest_wrong is not None


async def test_an_exploration_is_the_answer_and_books_no_saving(
    make_cache: MakeCache, ledger: LedgerStore
) -> None:
    cache = make_cache(explore_rate=1.0, random=lambda: 0.0)
    upstream = answering()
    handler = compose([ledger_stage(ledger, accountant()), cache], upstream)
    await handler(ask("what is the capital of france"))
    explored = await handler(ask("what is the capital city of france"))
    assert len(upstream.requests) == 2 and explored.served is not None
    steps = [(s.lever, s.avoided) for s in explored.steps]
    assert ("semantic_cache", None) in steps
    row = ledger.rows()[1]
    assert row.cost_usd == BASELINE and row.baseline_usd == BASELINE
    assert row.saved_usd == 0
    assert cache.tally(None).explored == 1 and cache.tally(None).wrong == 0
    # it agreed: no duplicate entry was stored for the explored query
    assert cache.store.count() == 1


async def test_tenants_never_see_each_others_entries(make_cache: MakeCache) -> None:
    upstream = answering("Acme's secret.")
    handler = make_cache()(upstream)
    await handler(ask("what is our refund policy", tenant="acme"))
    other = await handler(ask("what is our refund policy", tenant="globex"))
    assert other.headers["semantic-cache"] == "miss" and len(upstream.requests) == 2
    again = await handler(ask("what is our refund policy", tenant="acme"))
    assert again.headers["semantic-cache"] == "hit" and len(upstream.requests) == 2


async def test_controls_bypass_and_refresh(make_cache: MakeCache) -> None:
    upstream = answering()
    handler = make_cache()(upstream)
    await handler(ask("capital of france"))
    bypass = dataclasses.replace(ask("capital of france"), metadata={"cache": "bypass"})
    assert "semantic-cache" not in (await handler(bypass)).headers
    refresh = dataclasses.replace(ask("capital of france"), metadata={"cache": "refresh"})
    assert (await handler(refresh)).headers["semantic-cache"] == "miss"
    assert len(upstream.requests) == 3


@pytest.mark.parametrize(
    "answer",
    [
        lambda req: reply(req, "cut", STORED, body=None) if False else _finish(req, "length"),
        lambda req: _finish(req, "content_filter"),
        lambda req: _tool_call(req),
        lambda req: _refusal(req),
    ],
)
async def test_unstorable_answers_are_not_stored(make_cache: MakeCache, answer) -> None:  # type: ignore[no-untyped-def]
    cache = make_cache()
    handler = cache(FakeUpstream(answer))
    await handler(ask("capital of france"))
    assert cache.store.count() == 0


def _finish(req: ChatRequest, reason: str) -> ChatResponse:
    response = reply(req, "Par", STORED)
    assert response.body is not None
    response.body["choices"][0]["finish_reason"] = reason
    return response


def _tool_call(req: ChatRequest) -> ChatResponse:
    response = reply(req, "", STORED)
    assert response.body is not None
    response.body["choices"][0]["message"]["tool_calls"] = [{"id": "c", "type": "function"}]
    return response


def _refusal(req: ChatRequest) -> ChatResponse:
    response = reply(req, "x", STORED)
    assert response.body is not None
    response.body["choices"][0]["message"]["refusal"] = "I can't."
    return response


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_a_streamed_miss_is_stored_once_complete_and_a_hit_is_replayed_as_a_stream(
    make_cache: MakeCache, ledger: LedgerStore, dialect: str
) -> None:
    model = "gpt-4o" if dialect == "openai" else "claude-haiku-4-5"
    upstream = FakeUpstream(lambda req: stream_reply(req, ["Par", "is."], STORED))
    cache = make_cache()
    handler = compose([ledger_stage(ledger, accountant()), cache], upstream)
    first = await handler(request_for(model, "capital of france", dialect=dialect, stream=True))  # type: ignore[arg-type]
    await collect(first)
    assert cache.store.count() == 1
    hit = await handler(request_for(model, "capital city of france", dialect=dialect, stream=True))  # type: ignore[arg-type]
    events = await collect(hit)
    assert len(upstream.requests) == 1 and hit.headers["semantic-cache"] == "hit"
    text = b"".join(e.raw for e in events)
    assert b"Par" in text and b"is." in text
    row = ledger.rows()[1]
    assert row.cost_usd == 0 and row.savings.get("semantic_cache") == row.baseline_usd > 0


async def test_a_cut_stream_is_never_stored(make_cache: MakeCache) -> None:
    from thrifty.errors import StreamInterrupted

    cache = make_cache()
    handler = cache(FakeUpstream(lambda req: stream_reply(req, ["Par", "is."], fail_after=2)))
    response = await handler(ask("capital of france", stream=True))
    with pytest.raises(StreamInterrupted):
        await collect(response)
    assert cache.store.count() == 0


async def test_a_failing_lookup_calls_upstream(make_cache: MakeCache) -> None:
    cache = make_cache()

    def broken(texts: object) -> object:
        raise RuntimeError("model file damaged")

    cache.embedder.embed = broken  # type: ignore[method-assign, assignment]
    upstream = answering()
    response = await cache(upstream)(ask("capital of france"))
    assert len(upstream.requests) == 1 and "semantic-cache" not in response.headers


async def test_tasks_with_the_lever_off_pass_through(make_cache: MakeCache) -> None:
    cache = make_cache()
    cache._rules["chat"] = None
    upstream = answering()
    handler = cache(upstream)
    for _ in range(2):
        await handler(ask("capital of france", task="chat"))
    assert len(upstream.requests) == 2 and cache.store.count() == 0


async def test_build_reads_the_settings(tmp_path: Path) -> None:
    from contextlib import AsyncExitStack

    from thrifty.config import Settings
    from thrifty.errors import ConfigError
    from thrifty.levers.fewer_calls.semantic.stage import build, store_path

    def parts(**data: object) -> object:
        from types import SimpleNamespace

        settings = Settings(ledger={"path": str(tmp_path / "ledger.db")}, **data)  # type: ignore[arg-type]
        return SimpleNamespace(settings=settings, resources=AsyncExitStack())

    assert await build(parts()) is None  # type: ignore[arg-type]
    on = parts(tasks={"faq": {"semantic_cache": {"enabled": True}}})
    stage = await build(on)  # type: ignore[arg-type]
    assert stage is not None
    await on.resources.aclose()  # type: ignore[attr-defined]
    assert (
        store_path(on.settings, on.settings.levers.semantic_cache)
        == tmp_path / "ledger-semantic.db"
    )  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="only be set in"):
        await build(parts(tasks={"faq": {"semantic_cache": {"enabled": True, "path": "x.db"}}}))  # type: ignore[arg-type]
    table = tmp_path / "table.json"
    table.write_text('{"model_id": "other", "thresholds": {"0.02": 0.9}}')
    with pytest.raises(ConfigError, match="made with 'other'"):
        await build(
            parts(levers={"semantic_cache": {"enabled": True, "calibration_path": str(table)}})
        )  # type: ignore[arg-type]


async def test_a_stream_left_early_closes_the_upstream(make_cache: MakeCache) -> None:
    closed = []

    def answer(req: ChatRequest) -> ChatResponse:
        response = stream_reply(req, ["Par", "is", "."])
        inner = response.stream
        assert inner is not None

        async def watched():  # type: ignore[no-untyped-def]
            try:
                async for batch in inner:
                    yield batch
            finally:
                closed.append(True)

        response.stream = watched()
        return response

    cache = make_cache()
    response = await cache(FakeUpstream(answer))(ask("capital of france", stream=True))
    assert response.stream is not None
    async for _ in response.stream:
        break
    await response.stream.aclose()  # type: ignore[attr-defined]
    assert closed == [True] and cache.store.count() == 0
