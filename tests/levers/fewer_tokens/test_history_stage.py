"""The history stage: what it sends, in both dialects (checked by the simulator's
validators), what it books (priced by hand), and what it refuses to touch.

Rates (USD per million tokens, genai-prices' bundled data): gpt-4o 2.50 in / 10 out;
gpt-4o-mini 0.15 in / 0.60 out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.config import HistorySettings, Settings
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.levers.fewer_tokens.history.facts import FactsReader
from thrifty.levers.fewer_tokens.history.stage import WARNING_HEADER, build, history_stage
from thrifty.pipeline import compose
from thrifty.sim.anthropic_wire import AnthropicDialect
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.testing import FakeUpstream, accountant, collect, reply, stream_reply
from thrifty.tokens import TokenCount, TokenCounter
from thrifty.types import ChatRequest, Dialect, Handler, Usage

M = Decimal(1_000_000)
SYSTEM = "You are a helpful assistant."


class HundredPerMessage(TokenCounter):
    """Every message is 100 tokens: hand arithmetic stays simple.  ``calls`` counts them."""

    calls = 0

    def count_messages(
        self, model: str, messages: Sequence[Mapping[str, Any]], **_: Any
    ) -> TokenCount:
        self.calls += 1
        return TokenCount(100 * len(messages), True, "fixed")


def conversation(n: int, dialect: Dialect, *, model: str = "gpt-4o") -> ChatRequest:
    """``n`` turns (user first, alternating), with a system prompt."""
    turns: list[Any] = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "word " * 20}
        for i in range(n)
    ]
    body: dict[str, Any] = {"model": model, "max_tokens": 100}
    if dialect == "anthropic":
        body |= {"system": SYSTEM, "messages": turns}
    else:
        body["messages"] = [{"role": "system", "content": SYSTEM}, *turns]
    return ChatRequest(dialect=dialect, body=body, model=model, requested_model=model)


def stage_with(settings: HistorySettings, send: Handler | None = None) -> Any:
    return history_stage({None: settings}, send, HundredPerMessage())


def validate(request: ChatRequest) -> None:
    if request.dialect == "anthropic":
        AnthropicDialect().prepare(request.body)
    else:
        OpenAIDialect().prepare(request.body)


def texts(request: ChatRequest) -> list[str]:
    return [m["content"] for m in request.body["messages"] if m["role"] != "system"]


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_last_n_sends_a_valid_shorter_request(dialect: Dialect) -> None:
    upstream = FakeUpstream()
    handler = stage_with(HistorySettings(enabled=True, policy="last_n", max_turns=4, step_turns=4))(
        upstream
    )
    request = conversation(13, dialect)
    response = await handler(request)
    (sent,) = upstream.requests
    validate(request)
    validate(sent)
    assert texts(sent) == texts(request)[8:]  # 13 turns: the cut is at 8, 5 kept
    assert response.headers["history"] == "last_n: dropped 8 of 13 turns"
    (step,) = response.steps
    assert step.tokens is not None and step.tokens.input_tokens == -800
    if dialect == "anthropic":
        assert sent.body["system"] == SYSTEM
    else:
        assert sent.body["messages"][0] == {"role": "system", "content": SYSTEM}


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_the_kept_prefix_is_identical_until_the_cut_moves(dialect: Dialect) -> None:
    upstream = FakeUpstream()
    handler = stage_with(HistorySettings(enabled=True, budget_tokens=1000))(upstream)
    for n in range(1, 41, 2):  # one user turn more each request
        await handler(conversation(n, dialect))
    moves = 0
    for before, after in zip(upstream.requests, upstream.requests[1:], strict=False):
        old, new = before.body["messages"], after.body["messages"]
        if new[: len(old)] != old:
            moves += 1
    # 20 requests, 100 tokens a turn: the cut moves at 11 turns then every 6 (see the scan)
    assert moves == 5
    for sent in upstream.requests:
        validate(sent)
        assert len(texts(sent)) <= 10


async def test_a_budget_cut_is_booked_at_the_requested_models_input_rate(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path / "ledger.db")
    await store.open()
    try:
        usage = Usage(input_tokens=600, output_tokens=50)
        upstream = FakeUpstream(lambda req: reply(req, "ok", usage))
        history = stage_with(HistorySettings(enabled=True, budget_tokens=1000))
        handler = compose([ledger_stage(store, accountant()), history], upstream)
        await handler(conversation(11, "openai"))
        (row,) = store.rows()
    finally:
        await store.close()
    removed = 600  # 11 turns of 100 pass 1,000: the cut at turn 6 drops 6 turns
    assert row.cost_usd == (600 * Decimal("2.5") + 50 * Decimal(10)) / M == Decimal("0.002")
    assert row.baseline_usd == ((600 + removed) * Decimal("2.5") + 500) / M
    assert row.savings == {"history": Decimal("0.0015")}


def summariser(text: str = "they said hello") -> FakeUpstream:
    return FakeUpstream(lambda req: reply(req, text, Usage(input_tokens=400, output_tokens=60)))


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_summary_is_a_system_note_and_a_booked_call(dialect: Dialect, tmp_path: Path) -> None:
    cheap = summariser()
    settings = HistorySettings(
        enabled=True, policy="summary", budget_tokens=1000, summary_model="gpt-4o-mini"
    )
    upstream = FakeUpstream(lambda req: reply(req, "ok", Usage(input_tokens=700, output_tokens=50)))
    store = LedgerStore(tmp_path / "ledger.db")
    await store.open()
    try:
        handler = compose(
            [ledger_stage(store, accountant()), stage_with(settings, cheap)], upstream
        )
        response = await handler(conversation(11, dialect))
        (row,) = store.rows()
    finally:
        await store.close()
    (sent,) = upstream.requests
    validate(sent)
    (asked,) = cheap.requests
    assert (
        asked.model == "gpt-4o-mini"
        and "turn 5" in str(asked.body)
        and "turn 6" not in str(asked.body)
    )
    note = "Summary of the earlier conversation:\nthey said hello"
    if dialect == "anthropic":
        assert sent.body["system"] == [
            {"type": "text", "text": SYSTEM},
            {"type": "text", "text": note},
        ]
    else:
        assert sent.body["messages"][:2] == [
            {"role": "system", "content": SYSTEM},
            {"role": "system", "content": note},
        ]
    assert response.headers["history"] == "summary: dropped 6 of 11 turns, summarised"
    # 600 tokens dropped, the note counted as 100: 500 fewer on gpt-4o, minus the summary
    # call on gpt-4o-mini (400 in, 60 out)
    saved = 500 * Decimal("2.5") / M
    summary_cost = (400 * Decimal("0.15") + 60 * Decimal("0.6")) / M
    assert row.savings == {"history": saved - summary_cost}
    assert [c.call.lever for c in row.calls] == ["history", None]


async def test_a_summary_is_written_once_per_cut() -> None:
    cheap = summariser()
    settings = HistorySettings(
        enabled=True, policy="summary", budget_tokens=1000, summary_model="gpt-4o-mini"
    )
    upstream = FakeUpstream()
    handler = stage_with(settings, cheap)(upstream)
    for n in (11, 13, 15, 17):  # the cut moves at 17 turns (to 12)
        await handler(conversation(n, "openai"))
    assert len(cheap.requests) == 2
    # the second summary is written from the first plus the turns between the cuts
    second = str(cheap.requests[1].body)
    assert "they said hello" in second and "turn 6" in second and "turn 5" not in second
    notes = [r.body["messages"][1] for r in upstream.requests]
    assert notes[0] == notes[1] == notes[2]


@pytest.mark.parametrize(
    ("answer", "warning"),
    [
        (lambda req: reply(req, "   "), "summary call gave no text"),
        (lambda req: (_ for _ in ()).throw(TimeoutError()), "summary call failed: TimeoutError"),
    ],
)
async def test_a_failed_summary_sends_the_request_unchanged(answer: Any, warning: str) -> None:
    cheap = FakeUpstream(answer)
    settings = HistorySettings(
        enabled=True, policy="summary", budget_tokens=1000, summary_model="gpt-4o-mini"
    )
    upstream = FakeUpstream()
    request = conversation(11, "openai")
    response = await stage_with(settings, cheap)(upstream)(request)
    assert upstream.requests == [request]
    assert response.headers[WARNING_HEADER] == warning
    assert response.steps == []
    assert len(response.lever_calls) == (1 if warning.endswith("no text") else 0)


def malformed(kind: str) -> ChatRequest:
    request = conversation(13, "openai")
    messages = list(request.body["messages"])
    if kind == "orphan result":
        messages[4] = {"role": "tool", "tool_call_id": "nope", "content": "x"}
    elif kind == "empty turn":
        messages[4] = {"role": "assistant", "content": ""}
    elif kind == "system inside":
        messages[4] = {"role": "system", "content": "late"}
    return dataclasses.replace(request, body={**request.body, "messages": messages})


@pytest.mark.parametrize(
    ("kind", "warning"),
    [
        ("orphan result", "turn 3 has a tool result without its call"),
        ("empty turn", "turn 3 is empty"),
        ("system inside", "a system message inside the conversation"),
    ],
)
async def test_a_malformed_conversation_passes_unchanged(kind: str, warning: str) -> None:
    upstream = FakeUpstream()
    handler = stage_with(HistorySettings(enabled=True, policy="last_n", max_turns=2))(upstream)
    request = malformed(kind)
    response = await handler(request)
    assert upstream.requests == [request]
    assert warning in response.headers[WARNING_HEADER]
    assert response.steps == []


async def test_an_oversized_message_passes_unchanged() -> None:
    upstream = FakeUpstream()
    handler = stage_with(HistorySettings(enabled=True, budget_tokens=99))(upstream)
    request = conversation(13, "anthropic")
    response = await handler(request)
    assert upstream.requests == [request]
    assert response.headers[WARNING_HEADER].startswith("sent unchanged: turn 0 alone is 100 tokens")
    assert response.headers[WARNING_HEADER].endswith("(+10 more)")


async def test_short_conversations_other_tasks_and_other_apis_are_untouched() -> None:
    upstream = FakeUpstream()
    handler = history_stage(
        {None: None, "chat": HistorySettings(enabled=True, policy="last_n", max_turns=4)},
        None,
        HundredPerMessage(),
    )(upstream)
    short = dataclasses.replace(conversation(3, "openai"), task="chat")
    response = await handler(short)
    assert response.headers["history"] == "last_n: kept all 3 turns"
    other = conversation(13, "openai")
    await handler(other)
    embedding = dataclasses.replace(other, task="chat", api="embeddings")
    await handler(embedding)
    assert upstream.requests == [short, other, embedding]


async def test_a_streamed_request_is_trimmed_too() -> None:
    upstream = FakeUpstream(lambda req: stream_reply(req))
    settings = HistorySettings(enabled=True, policy="last_n", max_turns=4, step_turns=4)
    handler = stage_with(settings)(upstream)
    request = dataclasses.replace(conversation(13, "openai"), stream=True)
    response = await handler(request)
    await collect(response)
    assert texts(upstream.requests[0]) == texts(request)[8:]
    assert response.steps[0].tokens is not None


async def test_build_is_off_by_default_and_on_per_task() -> None:
    from contextlib import AsyncExitStack

    from thrifty.dispatch import ProviderRegistry
    from thrifty.pipeline import Parts
    from thrifty.pricing import PriceBook

    def parts(settings: Settings) -> Parts:
        return Parts(settings, PriceBook(), None, ProviderRegistry([]), AsyncExitStack())  # type: ignore[arg-type]

    assert await build(parts(Settings())) is None
    on = Settings.model_validate({"tasks": {"chat": {"history": {"enabled": True}}}})
    assert await build(parts(on)) is not None


def test_summary_needs_a_model() -> None:
    with pytest.raises(ValueError, match="summary_model"):
        HistorySettings(enabled=True, policy="summary")


async def test_real_token_counts_book_what_was_removed() -> None:
    upstream = FakeUpstream()
    handler = history_stage(
        {None: HistorySettings(enabled=True, policy="last_n", max_turns=4, step_turns=4)}
    )(upstream)
    request = conversation(13, "openai")
    response = await handler(request)
    counter = TokenCounter()
    dropped = request.body["messages"][1:9]
    expected = sum(counter.count_messages("gpt-4o", [m]).tokens for m in dropped)
    (step,) = response.steps
    assert step.tokens is not None and step.tokens.input_tokens == -expected
    assert 8 * 20 < expected < 8 * 40  # eight turns of ~24 words


async def test_a_message_that_is_not_json_passes_unchanged() -> None:
    upstream = FakeUpstream()
    handler = stage_with(HistorySettings(enabled=True))(upstream)
    request = conversation(3, "openai")
    odd = {**request.body, "messages": [*request.body["messages"], {"role": "user", "x": {1, 2}}]}
    request = dataclasses.replace(request, body=odd)
    response = await handler(request)
    assert upstream.requests == [request]
    assert response.headers[WARNING_HEADER] == "sent unchanged: a message is not JSON"


async def test_a_body_without_messages_passes_without_a_header() -> None:
    upstream = FakeUpstream()
    request = dataclasses.replace(conversation(3, "openai"), body={"model": "gpt-4o"})
    response = await stage_with(HistorySettings(enabled=True))(upstream)(request)
    assert upstream.requests == [request] and response.headers == {}


def test_the_facts_memo_is_bounded_by_bytes() -> None:
    counter = HundredPerMessage()
    reader = FactsReader(counter, memo_bytes=2_000)
    request = conversation(60, "anthropic")
    read = reader.read(request, request.body["messages"])
    assert read is not None
    facts, wires = read
    assert [f.tokens for f in facts] == [100] * 60
    held = sum(len(w) for w in wires[-len(reader) :])
    assert 0 < len(reader) < 60 and held <= 2_000
    assert counter.calls == 60
    again = reader.read(request, request.body["messages"][-2:])  # still remembered
    assert again is not None and again[0] == facts[-2:] and counter.calls == 60
    reader.read(request, request.body["messages"][:1])  # dropped: counted again
    assert counter.calls == 61
