"""The LLM-judge comparator in the semantic cache: when it is asked, what its verdict
teaches, and its cost booked as the cache's own in the ledger (hand arithmetic, gpt-4o-mini
at $0.15 in / $0.60 out per million tokens).  The judge itself (prompt, verdict, failures):
tests/levers/test_judge.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.config import SemanticCacheSettings
from thrifty.errors import ConfigError, UpstreamError
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.fewer_calls.semantic.stage import SemanticCache, rules_for
from thrifty.levers.fewer_calls.semantic.store import SemanticStore
from thrifty.levers.judge import Judge
from thrifty.pipeline import compose
from thrifty.testing import FakeUpstream, accountant, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Usage

from .conftest import WordsEmbedder

JUDGE = "gpt-4o-mini"
STORED = Usage(input_tokens=1000, output_tokens=200)  # gpt-4o: $0.0045
ANSWER = Decimal("0.0045")
JUDGED = Usage(input_tokens=1000, output_tokens=1)  # gpt-4o-mini: $0.00015 + $0.0000006
JUDGE_COST = Decimal("0.0001506")


@pytest.fixture
async def ledger(tmp_path: Path) -> Iterator[LedgerStore]:
    store = LedgerStore(tmp_path / "ledger.db")
    await store.open()
    yield store  # type: ignore[misc]
    await store.close()


def ask(text: str, **kwargs: Any) -> ChatRequest:
    return request_for("gpt-4o", text, **kwargs)


def is_judged(request: ChatRequest) -> bool:
    return request.model == JUDGE


class Upstream(FakeUpstream):
    """Answers the app with ``answers`` in turn and the judge with ``verdict``."""

    def __init__(self, answers: list[str], verdict: Callable[[ChatRequest], ChatResponse]) -> None:
        texts = iter(answers)

        def answer(request: ChatRequest) -> ChatResponse:
            if is_judged(request):
                return verdict(request)
            if request.stream:
                return stream_reply(request, [next(texts)], STORED)
            return reply(request, next(texts), STORED)

        super().__init__(answer)

    @property
    def judged(self) -> list[ChatRequest]:
        return [r for r in self.requests if is_judged(r)]


def says(word: str) -> Callable[[ChatRequest], ChatResponse]:
    return lambda request: reply(request, word, JUDGED)


def judged_cache(
    store: SemanticStore,
    upstream: FakeUpstream,
    *,
    explore_rate: float = 1.0,
    random: Callable[[], float] = lambda: 0.0,
) -> SemanticCache:
    lever = SemanticCacheSettings(
        enabled=True,
        threshold=0.8,
        min_similarity=0.5,
        explore_rate=explore_rate,
        comparator="judge",
        judge_model=JUDGE,
    )
    return SemanticCache(
        store,
        WordsEmbedder(),
        {None: rules_for(lever, {})},
        random=random,
        judge=Judge(upstream, "semantic_cache"),
    )


async def test_an_exploration_asks_the_judge_and_books_its_cost_as_the_cache_s(
    store: SemanticStore, ledger: LedgerStore
) -> None:
    upstream = Upstream(["Paris.", "It is Paris."], says("SAME"))
    cache = judged_cache(store, upstream)
    handler = compose([ledger_stage(ledger, accountant()), cache], upstream)
    await handler(ask("what is the capital of france"))
    explored = await handler(ask("what is the capital city of france"))
    assert explored.headers["semantic-cache"] == "explore"
    (judged,) = upstream.judged
    prompt = judged.body["messages"][1]["content"]
    assert "<answer_a>\nParis.\n</answer_a>\n<answer_b>\nIt is Paris.\n" in prompt
    assert "<question>\nwhat is the capital city of france\n" in prompt  # the new question
    assert cache.tally(None).explored == 1 and cache.tally(None).wrong == 0
    assert explored.headers["semantic-error-estimate"].endswith("n=1")
    assert store.count() == 1  # it agreed: the cached entry serves this query already
    row = ledger.rows()[1]
    assert [(c.call.model, c.call.lever) for c in row.calls] == [
        (JUDGE, "semantic_cache"),
        ("gpt-4o", None),
    ]
    assert row.cost_usd == ANSWER + JUDGE_COST
    assert row.baseline_usd == ANSWER
    assert row.savings == {"semantic_cache": -JUDGE_COST}
    assert row.saved_usd == -JUDGE_COST


async def test_a_different_verdict_teaches_the_entry_and_stores_the_fresh_answer(
    store: SemanticStore,
) -> None:
    upstream = Upstream(["Paris.", "Lyon."], says("DIFFERENT"))
    cache = judged_cache(store, upstream)
    handler = cache(upstream)
    await handler(ask("what is the capital of france"))
    await handler(ask("what is the capital city of france"))
    assert cache.tally(None).explored == 1 and cache.tally(None).wrong == 1
    assert store.count() == 2
    vector = cache.embedder.embed(["what is the capital of france"])[0]
    partition = store._db.execute("SELECT partition FROM entries LIMIT 1").fetchone()[0]
    first = {e.query: e for e, _ in store.nearest(partition, vector)}
    assert first["what is the capital of france"].highest_wrong is not None


async def test_answers_with_the_same_words_agree_without_asking(store: SemanticStore) -> None:
    upstream = Upstream(["Paris.", "paris"], says("DIFFERENT"))
    cache = judged_cache(store, upstream)
    handler = cache(upstream)
    await handler(ask("what is the capital of france"))
    response = await handler(ask("what is the capital city of france"))
    assert upstream.judged == [] and response.lever_calls == []
    assert cache.tally(None).explored == 1 and cache.tally(None).wrong == 0


@pytest.mark.parametrize("word", ["Maybe", "SAME SAME"])
async def test_no_verdict_teaches_nothing_but_the_call_is_still_booked(
    store: SemanticStore, ledger: LedgerStore, word: str
) -> None:
    upstream = Upstream(["Paris.", "Lyon."], says(word))
    cache = judged_cache(store, upstream)
    handler = compose([ledger_stage(ledger, accountant()), cache], upstream)
    await handler(ask("what is the capital of france"))
    await handler(ask("what is the capital city of france"))
    assert cache.tally(None).explored == 0
    row = ledger.rows()[1]
    assert row.cost_usd == ANSWER + JUDGE_COST and row.savings == {"semantic_cache": -JUDGE_COST}


@pytest.mark.parametrize("reached", [True, False])
async def test_a_failed_judge_call_is_no_verdict_and_never_booked_as_free(
    store: SemanticStore, ledger: LedgerStore, reached: bool
) -> None:
    def fails(request: ChatRequest) -> ChatResponse:
        error = UpstreamError("judge down", status=500, provider="openai")
        error.reached_upstream = reached
        raise error

    upstream = Upstream(["Paris.", "Lyon."], fails)
    cache = judged_cache(store, upstream)
    handler = compose([ledger_stage(ledger, accountant()), cache], upstream)
    await handler(ask("what is the capital of france"))
    explored = await handler(ask("what is the capital city of france"))
    assert explored.body is not None and "Lyon." in str(explored.body)  # the app is served
    assert cache.tally(None).explored == 0
    row = ledger.rows()[1]
    if reached:  # it may have been billed: the row's cost is unknown, not $0 for the judge
        assert row.cost_usd is None
        assert [c.call.usage_reported for c in row.calls] == [False, True]
    else:
        assert row.cost_usd == ANSWER and len(row.calls) == 1


async def test_near_misses_are_judged_only_as_often_as_hits_are_explored(
    store: SemanticStore,
) -> None:
    draws = iter([0.9, 0.01])  # the first near miss is not judged, the second is
    upstream = Upstream(["Paris.", "Lyon.", "Nice."], says("DIFFERENT"))
    lever = SemanticCacheSettings(
        enabled=True,
        threshold=0.99,
        min_similarity=0.5,
        explore_rate=0.05,
        comparator="judge",
        judge_model=JUDGE,
    )
    cache = SemanticCache(
        store,
        WordsEmbedder(),
        {None: rules_for(lever, {})},
        random=lambda: next(draws),
        judge=Judge(upstream, "semantic_cache"),
    )
    handler = cache(upstream)
    await handler(ask("what is the capital of france"))
    first = await handler(ask("what is the capital city of france"))
    assert first.headers["semantic-cache"] == "near"
    assert upstream.judged == [] and first.lever_calls == []
    second = await handler(ask("what is the town capital of france"))
    assert second.headers["semantic-cache"] == "near" and len(upstream.judged) == 1
    assert len(second.lever_calls) == 1 and second.lever_calls[0].lever == "semantic_cache"
    assert cache.tally(None).explored == 0  # near misses are not explorations


async def test_a_streamed_exploration_books_the_judge_in_the_stream_s_row(
    store: SemanticStore, ledger: LedgerStore
) -> None:
    upstream = Upstream(["Paris.", "Lyon."], says("DIFFERENT"))
    cache = judged_cache(store, upstream)
    handler = compose([ledger_stage(ledger, accountant()), cache], upstream)
    await handler(ask("what is the capital of france"))
    streamed = await handler(ask("what is the capital city of france", stream=True))
    events = await collect(streamed)
    assert events and len(upstream.judged) == 1
    row = ledger.rows()[1]
    assert row.stream and row.cost_usd == ANSWER + JUDGE_COST
    assert row.savings == {"semantic_cache": -JUDGE_COST}
    assert cache.tally(None).wrong == 1


def test_the_judge_needs_a_model() -> None:
    lever = SemanticCacheSettings(enabled=True, comparator="judge")
    with pytest.raises(ConfigError, match="needs judge_model"):
        rules_for(lever, {})


async def test_build_checks_that_a_provider_serves_the_judge(
    tmp_path: Path, minilm: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import AsyncExitStack
    from types import SimpleNamespace

    from thrifty.config import Settings
    from thrifty.dispatch import ProviderRegistry, Upstream
    from thrifty.levers.fewer_calls.semantic import stage

    monkeypatch.setattr(stage, "make_embedder", lambda model, threads: minilm)

    def parts(judge_model: str) -> Any:
        settings = Settings(
            ledger={"path": str(tmp_path / "ledger.db")},  # type: ignore[arg-type]
            tasks={
                "faq": {
                    "semantic_cache": {
                        "enabled": True,
                        "comparator": "judge",
                        "judge_model": judge_model,
                    }
                }
            },
        )
        openai = Upstream("openai", settings.providers["openai"], provider=None)
        return SimpleNamespace(
            settings=settings, resources=AsyncExitStack(), providers=ProviderRegistry([openai])
        )

    with pytest.raises(ConfigError, match="no configured provider serves judge_model 'nobody-7'"):
        await stage.build(parts("nobody-7"))
    served = parts(JUDGE)
    built = await stage.build(served)
    assert isinstance(built, SemanticCache) and built._judge is not None
    await served.resources.aclose()
