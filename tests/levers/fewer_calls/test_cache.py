"""The exact cache stage with the test kit: what is memoized, under which key, what a hit
and a miss look like, and what is never stored."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.errors import BadRequest
from thrifty.levers.fewer_calls.cache import ExactCache
from thrifty.levers.fewer_calls.cache_policy import policies_for
from thrifty.levers.fewer_calls.cache_store import Tally
from thrifty.store import MemoryCache
from thrifty.testing import FakeUpstream, reply, request_for
from thrifty.types import ChatRequest, ChatResponse, Handler, Usage

USAGE = Usage(input_tokens=1000, output_tokens=200)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def numbered(request: ChatRequest, calls: list[int]) -> ChatResponse:
    """A different answer on every call: a hit is told apart from a new call."""
    calls.append(1)
    return reply(request, f"answer {len(calls)}", USAGE)


def make(
    settings: Settings | None = None,
    answer: Any = None,
    store: MemoryCache | None = None,
    clock: Clock | None = None,
) -> tuple[Handler, FakeUpstream, MemoryCache, Tally]:
    store = store if store is not None else MemoryCache(clock=clock or Clock())
    calls: list[int] = []
    upstream = FakeUpstream(answer or (lambda req: numbered(req, calls)))
    tally = Tally(None)
    cache = ExactCache(store, policies_for(settings or Settings()), tally, clock=clock or Clock())
    return settled(cache, upstream), upstream, store, tally


def settled(cache: ExactCache, upstream: Handler) -> Handler:
    """The cache over ``upstream``; a call returns once its write to the store is done."""
    handler = cache(upstream)

    async def handle(request: ChatRequest) -> ChatResponse:
        response = await handler(request)
        await cache.drain()
        return response

    return handle


def text_of(response: ChatResponse) -> str:
    assert response.body is not None
    if response.dialect == "anthropic":
        return str(response.body["content"][0]["text"])
    return str(response.body["choices"][0]["message"]["content"])


def det(model: str = "gpt-4o", text: str = "hello", **kw: Any) -> ChatRequest:
    return request_for(model, text, temperature=0, **kw)


@pytest.mark.parametrize(
    ("model", "dialect"), [("gpt-4o", "openai"), ("claude-sonnet-4-6", "anthropic")]
)
async def test_a_deterministic_request_is_answered_once_then_from_the_cache(
    model: str, dialect: Any
) -> None:
    handler, upstream, store, tally = make()
    first = await handler(det(model, dialect=dialect))
    second = await handler(det(model, dialect=dialect))
    assert len(upstream.requests) == 1
    assert first.headers["cache"] == "miss" and second.headers["cache"] == "hit"
    assert text_of(first) == text_of(second) == "answer 1"
    assert second.served is None and second.provider == "cache"
    assert second.usage == USAGE and second.model == model
    [step] = second.steps
    assert (step.lever, step.avoided) == ("cache", USAGE)
    assert second.headers["cache-age"] == "0"
    assert (tally["miss"], tally["stored"], tally["hit"]) == (1, 1, 1)
    assert (await store.stats()).entries == 1


async def test_a_non_deterministic_request_is_never_memoized_by_default() -> None:
    handler, upstream, store, tally = make()
    for _ in range(2):
        response = await handler(request_for("gpt-4o", "hello"))  # temperature unset
        assert response.headers["cache"] == "bypass"
    await handler(request_for("gpt-4o", "hello", temperature=0.7))
    assert len(upstream.requests) == 3 and tally["bypass"] == 3
    assert (await store.stats()).entries == 0


async def test_mode_always_per_task_and_the_always_control_per_request() -> None:
    settings = Settings(tasks={"faq": {"cache": {"mode": "always"}}})
    handler, upstream, _, _ = make(settings)
    await handler(request_for("gpt-4o", "q", task="faq"))
    hit = await handler(request_for("gpt-4o", "q", task="faq"))
    assert hit.headers["cache"] == "hit"
    other = request_for("gpt-4o", "q", task="other")
    assert (await handler(other)).headers["cache"] == "bypass"
    opted = request_for("gpt-4o", "q2")
    opted.metadata["cache"] = "always"
    await handler(opted)
    again = request_for("gpt-4o", "q2")
    again.metadata["cache"] = "always"
    assert (await handler(again)).headers["cache"] == "hit"
    assert len(upstream.requests) == 3


async def test_bypass_skips_the_cache_and_refresh_overwrites_the_entry() -> None:
    handler, upstream, _, _ = make()
    await handler(det())
    bypass = det()
    bypass.metadata["cache"] = "bypass"
    skipped = await handler(bypass)
    assert skipped.headers["cache"] == "bypass" and text_of(skipped) == "answer 2"
    assert text_of(await handler(det())) == "answer 1"  # bypass stored nothing
    refresh = det()
    refresh.metadata["cache"] = "refresh"
    refreshed = await handler(refresh)
    assert refreshed.headers["cache"] == "refresh" and text_of(refreshed) == "answer 3"
    after = await handler(det())
    assert after.headers["cache"] == "hit" and text_of(after) == "answer 3"
    assert len(upstream.requests) == 3


async def test_an_unknown_control_is_a_bad_request_naming_the_values() -> None:
    handler, upstream, _, _ = make()
    request = det()
    request.metadata["cache"] = "sometimes"
    with pytest.raises(BadRequest, match="bypass, refresh, always"):
        await handler(request)
    assert upstream.requests == []


async def test_tenants_never_share_an_entry() -> None:
    handler, upstream, _, _ = make()
    a = await handler(det(tenant="acme"))
    b = await handler(det(tenant="globex"))
    assert a.headers["cache"] == b.headers["cache"] == "miss"
    assert text_of(a) != text_of(b)
    assert (await handler(det(tenant="acme"))).headers["cache"] == "hit"
    assert (await handler(det())).headers["cache"] == "miss"  # no tenant is its own
    assert len(upstream.requests) == 3


async def test_the_key_covers_task_model_api_and_content_not_spelling() -> None:
    handler, upstream, _, _ = make()
    await handler(det())
    assert (await handler(det(task="t"))).headers["cache"] == "miss"
    assert (await handler(det("gpt-4o-mini"))).headers["cache"] == "miss"
    assert (await handler(det(text="other"))).headers["cache"] == "miss"
    assert (await handler(det(max_tokens=5))).headers["cache"] == "miss"
    respelled = det(max_completion_tokens=5, stream=False)
    assert (await handler(respelled)).headers["cache"] == "hit"  # same value, other name
    streamed = det(user="someone", metadata={"a": "b"})
    assert (await handler(streamed)).headers["cache"] == "hit"  # fields that change nothing
    assert len(upstream.requests) == 5


async def test_a_routing_or_output_cap_change_is_a_new_key() -> None:
    store = MemoryCache()
    first = Settings(routing={"tasks": {"t": "gpt-4o-mini"}})
    handler, _, _, _ = make(first, store=store)
    await handler(det(task="t"))
    again, _, _, _ = make(first, store=store)
    assert (await again(det(task="t"))).headers["cache"] == "hit"
    rerouted, _, _, _ = make(Settings(routing={"tasks": {"t": "gpt-4.1-mini"}}), store=store)
    assert (await rerouted(det(task="t"))).headers["cache"] == "miss"
    capped = Settings(
        routing={"tasks": {"t": "gpt-4o-mini"}},
        tasks={"t": {"output": {"enabled": True, "max_output_tokens": 50}}},
    )
    handler, _, _, _ = make(capped, store=store)
    assert (await handler(det(task="t"))).headers["cache"] == "miss"


async def test_a_task_with_the_cache_disabled_is_left_alone() -> None:
    handler, upstream, store, tally = make(Settings(tasks={"live": {"cache": {"enabled": False}}}))
    for _ in range(2):
        response = await handler(det(task="live"))
        assert "cache" not in response.headers
    assert len(upstream.requests) == 2 and (await store.stats()).entries == 0
    assert sum(tally.counts.values()) == 0


async def test_entries_expire_after_the_tasks_ttl() -> None:
    clock = Clock()
    settings = Settings(levers={"cache": {"ttl_s": 60}}, tasks={"short": {"cache": {"ttl_s": 5}}})
    handler, upstream, _, _ = make(settings, clock=clock)
    await handler(det())
    await handler(det(task="short"))
    clock.now += 30
    assert (await handler(det())).headers["cache-age"] == "30"
    assert (await handler(det(task="short"))).headers["cache"] == "miss"
    clock.now += 31
    assert (await handler(det())).headers["cache"] == "miss"
    assert len(upstream.requests) == 4


def _openai(request: ChatRequest, finish: str, **message: Any) -> ChatResponse:
    response = reply(request, "x", USAGE)
    assert response.body is not None
    choice = response.body["choices"][0]
    choice["finish_reason"] = finish
    choice["message"].update(message)
    return response


def _anthropic(request: ChatRequest, stop: str, content: list[Any] | None = None) -> ChatResponse:
    response = reply(request, "x", USAGE)
    assert response.body is not None
    response.body["stop_reason"] = stop
    if content is not None:
        response.body["content"] = content
    return response


NEVER_STORED = {
    "truncated": lambda r: _openai(r, "length"),
    "content filter": lambda r: _openai(r, "content_filter"),
    "refusal": lambda r: _openai(r, "stop", content=None, refusal="I can't help with that"),
    "empty": lambda r: _openai(r, "stop", content=""),
    "no usage": lambda r: _replace(reply(r, "x", USAGE), usage_reported=False),
    "estimated usage": lambda r: _replace(reply(r, "x", USAGE), usage_estimated=True),
    "not from a provider": lambda r: _replace(reply(r, "x", USAGE), served=None),
}
NEVER_STORED_ANTHROPIC = {
    "max_tokens": lambda r: _anthropic(r, "max_tokens"),
    "refusal": lambda r: _anthropic(r, "refusal"),
    "pause_turn": lambda r: _anthropic(r, "pause_turn"),
    "empty": lambda r: _anthropic(r, "end_turn", []),
    "thinking only": lambda r: _anthropic(r, "end_turn", [{"type": "thinking", "thinking": "hm"}]),
}


def _replace(response: ChatResponse, **facts: Any) -> ChatResponse:
    for name, value in facts.items():
        setattr(response, name, value)
    return response


@pytest.mark.parametrize("case", sorted(NEVER_STORED))
async def test_incomplete_or_odd_openai_answers_are_never_stored(case: str) -> None:
    handler, upstream, store, tally = make(answer=NEVER_STORED[case])
    await handler(det())
    assert (await handler(det())).headers["cache"] == "miss"
    assert len(upstream.requests) == 2 and (await store.stats()).entries == 0
    assert tally["not_stored"] == 2


@pytest.mark.parametrize("case", sorted(NEVER_STORED_ANTHROPIC))
async def test_incomplete_or_odd_anthropic_answers_are_never_stored(case: str) -> None:
    handler, upstream, store, _ = make(answer=NEVER_STORED_ANTHROPIC[case])
    for _ in range(2):
        await handler(det("claude-sonnet-4-6", dialect="anthropic"))
    assert len(upstream.requests) == 2 and (await store.stats()).entries == 0


async def test_a_tool_call_without_text_is_a_whole_answer() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    handler, upstream, _, _ = make(
        answer=lambda r: _openai(r, "tool_calls", content=None, tool_calls=[call])
    )
    await handler(det())
    hit = await handler(det())
    assert hit.headers["cache"] == "hit"
    assert hit.body is not None and hit.body["choices"][0]["message"]["tool_calls"] == [call]
    assert len(upstream.requests) == 1


async def test_a_refresh_whose_answer_cannot_be_stored_drops_the_old_entry() -> None:
    answers = iter([reply, lambda r, *a: _openai(r, "length")])
    handler, _, store, _ = make(answer=lambda r: next(answers)(r, "x", USAGE))
    await handler(det())
    refresh = det()
    refresh.metadata["cache"] = "refresh"
    await handler(refresh)
    assert (await store.stats()).entries == 0


async def test_an_answer_over_max_entry_bytes_is_not_stored() -> None:
    settings = Settings(levers={"cache": {"max_entry_bytes": 1000}})
    store = MemoryCache()
    upstream = FakeUpstream(lambda r: reply(r, "y" * 1000, USAGE))
    tally = Tally(None)
    cache = ExactCache(store, policies_for(settings), tally, max_entry_bytes=1000)
    handler = settled(cache, upstream)
    await handler(det())
    assert (await store.stats()).entries == 0 and tally["not_stored"] == 1
    await settled(cache, FakeUpstream(lambda r: reply(r, "y", USAGE)))(det(text="small"))
    assert (await store.stats()).entries == 1


@pytest.mark.parametrize("api", ["responses", "completions"])
async def test_other_api_operations_pass_through(api: Any) -> None:
    handler, upstream, store, _ = make(Settings(levers={"cache": {"mode": "always"}}))
    for _ in range(2):
        request = dataclasses.replace(det(), api=api)
        assert (await handler(request)).headers["cache"] == "bypass"
    assert len(upstream.requests) == 2 and (await store.stats()).entries == 0
