"""The cascade stage over a FakeUpstream with the real ledger: what is called, what is
served, and the ledger row checked by hand arithmetic.

Rates (USD per million tokens, genai-prices' bundled data): claude-haiku-4-5 1 in / 5 out;
claude-sonnet-4-6 3 / 15; claude-opus-4-1 15 / 75.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.levers.cheaper.cascade_kit import (
    HAIKU,
    OPUS,
    SONNET,
    check_sums,
    open_store,
    plans,
    run,
    usd,
)
from thrifty.errors import UpstreamTimeout, UpstreamUnavailable
from thrifty.ledger import LedgerStore
from thrifty.testing import reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Usage


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LedgerStore]:
    async for ledger in open_store(tmp_path):
        yield ledger


HAIKU_USAGE = Usage(input_tokens=1000, output_tokens=300)
SONNET_USAGE = Usage(input_tokens=1000, output_tokens=250)
HAIKU_COST = usd((1000, "1"), (300, "5"))  # $0.0025
SONNET_COST = usd((1000, "3"), (250, "15"))  # $0.00675


def answers(cheap_text: str, strong_text: str = "strong answer"):  # type: ignore[no-untyped-def]
    def answer(req: ChatRequest) -> ChatResponse:
        if req.model == HAIKU:
            if req.stream:
                return stream_reply(req, [cheap_text], HAIKU_USAGE)
            return reply(req, cheap_text, HAIKU_USAGE)
        if req.stream:
            return stream_reply(req, ["strong ", "answer"], SONNET_USAGE)
        return reply(req, strong_text, SONNET_USAGE)

    return answer


def ask(stream: bool = False, dialect: str = "anthropic") -> ChatRequest:
    return request_for(SONNET, "classify this", dialect=dialect, stream=stream, task="impact")  # type: ignore[arg-type]


def text_of(response: ChatResponse) -> str:
    assert response.body is not None
    return str(response.body["content"][0]["text"])


async def test_an_accepted_cheap_answer_is_served_and_booked_as_the_model_change(
    store: LedgerStore,
) -> None:
    response, row, upstream, _ = await run(
        store, plans(regex=r"^impact: \w+$"), answers("impact: low"), ask()
    )
    assert [r.model for r in upstream.requests] == [HAIKU]
    assert text_of(response) == "impact: low"
    assert response.headers["cascade"] == "accepted-tier-0"
    assert row.detail is not None and row.detail.startswith("cascade accepted-tier-0 task impact")
    assert row.cost_usd == HAIKU_COST == Decimal("0.0025")
    # baseline: the cheap answer's tokens on the requested model (sonnet)
    assert row.baseline_usd == usd((1000, "3"), (300, "15")) == Decimal("0.0075")
    assert row.savings == {"cascade": Decimal("0.005")}
    assert [c.call.model for c in row.calls] == [HAIKU]
    check_sums(row)


async def test_a_refused_cheap_answer_escalates_and_both_calls_are_booked(
    store: LedgerStore,
) -> None:
    response, row, upstream, _ = await run(
        store, plans(regex=r"^impact: \w+$"), answers("I am not sure"), ask()
    )
    assert [r.model for r in upstream.requests] == [HAIKU, SONNET]
    assert text_of(response) == "strong answer"
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.cost_usd == HAIKU_COST + SONNET_COST == Decimal("0.00925")
    assert row.baseline_usd == SONNET_COST
    assert row.savings == {"cascade": -HAIKU_COST}
    assert [(c.call.model, c.call.lever, c.cost.usd) for c in row.calls] == [
        (HAIKU, "cascade", HAIKU_COST),
        (SONNET, None, SONNET_COST),
    ]
    assert row.detail is not None and "refused (regex: no match)" in row.detail
    check_sums(row)


async def test_three_tiers_the_middle_one_answers(store: LedgerStore) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        text = {HAIKU: "maybe", SONNET: "impact: high"}.get(req.model, "opus")
        return reply(req, text, HAIKU_USAGE)

    request = request_for(OPUS, dialect="anthropic", task="impact")
    response, row, upstream, _ = await run(
        store, plans(tiers=(HAIKU, SONNET, OPUS), regex="impact"), answer, request
    )
    assert [r.model for r in upstream.requests] == [HAIKU, SONNET]
    assert response.headers["cascade"] == "escalated-tier-1"
    assert text_of(response) == "impact: high"
    sonnet = usd((1000, "3"), (300, "15"))
    assert row.cost_usd == HAIKU_COST + sonnet
    assert [c.call.lever for c in row.calls] == ["cascade", None]


@pytest.mark.parametrize("reached", [False, True])
async def test_a_failing_tier_escalates_and_a_call_that_reached_the_provider_is_unknown(
    store: LedgerStore, reached: bool
) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        if req.model == HAIKU:
            error = UpstreamUnavailable("down", provider="anthropic")
            error.reached_upstream = reached
            raise error
        return reply(req, "strong", SONNET_USAGE)

    response, row, _, _ = await run(store, plans(regex="x"), answer, ask())
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.status == 200 and row.detail is not None
    assert "failed (upstream_unavailable)" in row.detail
    if reached:  # it may have been billed: the row's cost is unknown, never $0
        assert row.cost_usd is None
        assert [(c.call.model, c.call.lever, c.call.usage_reported) for c in row.calls] == [
            (HAIKU, "cascade", False),
            (SONNET, None, True),
        ]
    else:  # refused before any work: not billed
        assert row.cost_usd == SONNET_COST
        assert row.savings == {}


async def test_a_slow_tier_times_out_and_escalates(store: LedgerStore) -> None:
    async def answer(req: ChatRequest) -> ChatResponse:
        if req.model == HAIKU:
            await asyncio.sleep(10)
        return reply(req, "strong", SONNET_USAGE)

    response, row, _, _ = await run(store, plans(tier_timeout_s=0.05), answer, ask())
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.detail is not None and "timed out after 0.05 s" in row.detail
    assert row.cost_usd is None  # the cut call was sent: unknown


async def test_the_top_tier_failing_fails_the_request(store: LedgerStore) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        raise UpstreamTimeout("slow", provider="anthropic")

    with pytest.raises(UpstreamTimeout):
        await run(store, plans(), answer, ask())


@pytest.mark.parametrize("reached", [False, True])
async def test_the_cheap_tier_is_booked_when_the_top_tier_then_fails(
    store: LedgerStore, reached: bool
) -> None:
    """Haiku answered (refused by the regex), then Sonnet failed: the failed row still
    carries Haiku's call, priced ($0.0025 = 1000 x $1/M + 300 x $5/M), booked as the
    cascade's negative share; the row's cost is unknown if Sonnet's call reached it."""

    def answer(req: ChatRequest) -> ChatResponse:
        if req.model == HAIKU:
            return reply(req, "no idea", HAIKU_USAGE)
        error = UpstreamUnavailable("down", provider="anthropic")
        error.reached_upstream = reached
        raise error

    with pytest.raises(UpstreamUnavailable):
        await run(store, plans(regex="impact"), answer, ask())
    (row,) = store.rows()
    assert row.status == 502 and row.failure == "upstream"
    assert [(c.call.model, c.call.lever, c.cost.usd) for c in row.calls] == [
        (HAIKU, "cascade", HAIKU_COST)
    ]
    assert row.usage == HAIKU_USAGE
    assert row.savings == {"cascade": -HAIKU_COST}
    assert row.cost_usd == (None if reached else HAIKU_COST)
    assert row.baseline_usd is None and row.saved_usd is None


async def test_a_cheap_stream_that_is_not_a_body_escalates(store: LedgerStore) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        if req.model == HAIKU:  # an upstream that streams although asked for a body
            return stream_reply(dataclasses.replace(req, stream=True), ["x"], HAIKU_USAGE)
        return reply(req, "strong", SONNET_USAGE)

    response, row, _, _ = await run(store, plans(), answer, ask())
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.detail is not None and "gave no complete answer" in row.detail


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
async def test_a_stream_is_held_then_replayed_when_accepted(
    store: LedgerStore, dialect: str
) -> None:
    response, row, upstream, events = await run(
        store, plans(regex="impact"), answers("impact: low"), ask(stream=True, dialect=dialect)
    )
    (sent,) = upstream.requests
    assert sent.model == HAIKU and not sent.stream and "stream" not in sent.body
    assert response.headers["cascade"] == "accepted-tier-0"
    text = "".join(
        str(
            (e.data or {}).get("delta", {}).get("text", "")
            if dialect == "anthropic"
            else "".join(c["delta"].get("content") or "" for c in (e.data or {}).get("choices", []))
        )
        for e in events
    )
    assert text == "impact: low"
    assert row.stream and row.status == 200 and row.failure is None
    assert row.cost_usd == HAIKU_COST
    assert [c.call.model for c in row.calls] == [HAIKU]


async def test_a_stream_escalated_gets_the_top_tier_stream(store: LedgerStore) -> None:
    response, row, upstream, events = await run(
        store, plans(regex="impact"), answers("nope"), ask(stream=True)
    )
    assert [(r.model, r.stream) for r in upstream.requests] == [(HAIKU, False), (SONNET, True)]
    assert response.headers["cascade"] == "escalated-tier-1"
    assert events and row.cost_usd == HAIKU_COST + SONNET_COST


async def test_streaming_the_first_tier_passes_it_live_and_only_escalates_on_failure(
    store: LedgerStore,
) -> None:
    response, row, upstream, _ = await run(
        store, plans(regex="impact", stream_first_tier=True), answers("nope"), ask(stream=True)
    )
    assert [(r.model, r.stream) for r in upstream.requests] == [(HAIKU, True)]
    assert response.headers["cascade"] == "streamed-tier-0"
    assert row.cost_usd == HAIKU_COST


async def test_streaming_the_first_tier_escalates_when_it_fails_before_starting(
    store: LedgerStore,
) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        if req.model == HAIKU:
            raise UpstreamUnavailable("down", provider="anthropic")
        return stream_reply(req, ["strong"], SONNET_USAGE)

    response, row, _, _ = await run(store, plans(stream_first_tier=True), answer, ask(stream=True))
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.cost_usd == SONNET_COST


async def test_agreement_books_the_second_answer_and_accepts_when_they_agree(
    store: LedgerStore,
) -> None:
    response, row, upstream, _ = await run(
        store, plans(agreement=True), answers("The answer is 42."), ask()
    )
    assert [r.model for r in upstream.requests] == [HAIKU, HAIKU]
    assert response.headers["cascade"] == "accepted-tier-0"
    assert row.cost_usd == 2 * HAIKU_COST
    assert [c.call.lever for c in row.calls] == ["cascade", None]
    check_sums(row)


async def test_agreement_escalates_when_the_answers_differ(store: LedgerStore) -> None:
    said = iter(["The answer is 42.", "The answer is 41."])

    def answer(req: ChatRequest) -> ChatResponse:
        if req.model == HAIKU:
            return reply(req, next(said), HAIKU_USAGE)
        return reply(req, "strong", SONNET_USAGE)

    response, row, _, _ = await run(
        store, plans(agreement=True, agreement_model=None), answer, ask()
    )
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.cost_usd == 2 * HAIKU_COST + SONNET_COST
    assert row.savings == {"cascade": -2 * HAIKU_COST}
    assert row.detail is not None and "agreement: answers differ" in row.detail


async def test_logprobs_are_asked_of_openai_tiers_and_hidden_when_the_app_did_not_ask(
    store: LedgerStore,
) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        response = reply(req, "fine", Usage(input_tokens=1000, output_tokens=200))
        assert response.body is not None
        mean = -0.1 if req.model == "gpt-4o-mini" else -3.0
        response.body["choices"][0]["logprobs"] = {
            "content": [{"token": "fine", "logprob": mean, "bytes": [], "top_logprobs": []}]
        }
        return response

    request = request_for("gpt-4o", task="impact")
    response, row, upstream, _ = await run(
        store, plans(tiers=("gpt-4o-mini", "gpt-4o"), min_mean_logprob=-0.5), answer, request
    )
    assert upstream.requests[0].body["logprobs"] is True
    assert response.headers["cascade"] == "accepted-tier-0"
    assert response.body is not None and response.body["choices"][0]["logprobs"] is None
    assert row.cost_usd == usd((1000, "0.15"), (200, "0.6"))


async def test_other_tasks_and_other_operations_pass_through(store: LedgerStore) -> None:
    request = request_for(SONNET, dialect="anthropic", task="other")
    response, _, upstream, _ = await run(store, plans(), answers("x"), request)
    assert [r.model for r in upstream.requests] == [SONNET]
    assert "cascade" not in response.headers


async def test_a_tier_the_request_cannot_be_sent_to_is_skipped(store: LedgerStore) -> None:
    # OpenAI n=2 cannot be carried to a Claude model: tier 0 is skipped, not failed
    request = request_for("gpt-4o", task="impact", n=2)
    response, row, upstream, _ = await run(
        store, plans(tiers=(HAIKU, "gpt-4o")), answers("x"), request
    )
    assert [r.model for r in upstream.requests] == ["gpt-4o"]
    assert row.detail is not None and "skipped (request not translatable)" in row.detail
    assert response.headers["cascade"] == "escalated-tier-1"
