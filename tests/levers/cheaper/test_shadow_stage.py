"""Shadow evaluation: off the hot path, sampled, budgeted, booked as its own row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.errors import UpstreamError
from thrifty.ledger.row import LedgerRow
from thrifty.levers.cheaper.shadow.compare import LlmJudge, TextComparator
from thrifty.levers.cheaper.shadow.samples import SqliteShadowSamples
from thrifty.levers.cheaper.shadow.stage import Shadow, TaskShadow
from thrifty.store import MemoryCounters
from thrifty.testing import FakeUpstream, accountant, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse, Usage

CHEAP, STRONG = "gpt-4o-mini", "gpt-4o"
USAGE = Usage(input_tokens=1000, output_tokens=200)
# gpt-4o: $2.50 / $10 per million input / output tokens; gpt-4o-mini: $0.15 / $0.60.
STRONG_COST = Decimal("0.0045")  # 1,000 x 2.5/M + 200 x 10/M
CHEAP_COST = Decimal("0.00027")  # 1,000 x 0.15/M + 200 x 0.6/M


class Rows:
    """A ledger writer that keeps what it is given."""

    def __init__(self) -> None:
        self.rows: list[LedgerRow] = []

    async def record(self, row: LedgerRow) -> None:
        self.rows.append(row)


@pytest.fixture
async def samples(tmp_path: Path) -> AsyncIterator[SqliteShadowSamples]:
    async with SqliteShadowSamples(tmp_path / "shadow.db") as store:
        yield store


def rules(**extra: Any) -> TaskShadow:
    values: dict[str, Any] = {
        "model": STRONG,
        "sample_rate": 1.0,
        "budget_pusd": 10**12,  # $1
        "compare": TextComparator("exact"),
        "comparator": "exact",
        **extra,
    }
    return TaskShadow(**values)


def make(
    samples: SqliteShadowSamples,
    strong: FakeUpstream,
    task_rules: TaskShadow | None = None,
    **extra: Any,
) -> tuple[Shadow, Rows]:
    ledger = Rows()
    shadow = Shadow(
        {"qa": task_rules or rules()},
        call=strong,
        samples=samples,
        budget=extra.pop("budget", MemoryCounters()),
        ledger=ledger,
        accountant=accountant(),
        provider_of=lambda model: "openai",
        **extra,
    )
    return shadow, ledger


def cheap_answer(text: str = "4") -> FakeUpstream:
    return FakeUpstream(lambda req: reply(req, text, USAGE, model=CHEAP))


def ask(text: str = "What is 2 + 2?", **extra: Any) -> ChatRequest:
    request = request_for(STRONG, text, task="qa", **extra)
    return request


def routed(request: ChatRequest) -> ChatRequest:
    from dataclasses import replace

    return replace(request, model=CHEAP)


async def test_the_answer_returns_before_the_shadow_call_finishes(
    samples: SqliteShadowSamples,
) -> None:
    release = asyncio.Event()

    async def slow_strong(req: ChatRequest) -> ChatResponse:
        await release.wait()
        return reply(req, "4", USAGE)

    shadow, ledger = make(samples, FakeUpstream(slow_strong))
    cheap = cheap_answer()
    handler = shadow(lambda req: cheap(routed(req)))
    response = await asyncio.wait_for(handler(ask()), timeout=5)
    assert response.model == CHEAP
    await asyncio.sleep(0.05)
    assert shadow.in_flight == 1 and ledger.rows == []  # still waiting for the strong model
    release.set()
    await shadow.drain(5)
    assert shadow.in_flight == 0
    (kept,) = await samples.samples()
    assert kept.agreed is True and kept.served_model == CHEAP and kept.shadow_model == STRONG


async def test_the_shadow_row_books_its_cost_as_a_negative_saving(
    samples: SqliteShadowSamples,
) -> None:
    strong = FakeUpstream(lambda req: reply(req, "5", USAGE))
    shadow, ledger = make(samples, strong)
    cheap = cheap_answer("4")
    request = ask()
    await shadow(lambda req: cheap(routed(req)))(request)
    await shadow.drain(5)
    (row,) = ledger.rows
    assert row.endpoint == "shadow" and row.task == "qa"
    assert row.cost_usd == STRONG_COST
    assert row.baseline_usd == Decimal(0)
    assert row.savings == {"shadow": -STRONG_COST} and row.saved_usd == -STRONG_COST
    assert [c.call.lever for c in row.calls] == ["shadow"]
    assert row.calls[0].call.model == STRONG
    assert row.request_id != request.request_id
    assert row.detail == f"shadow of {request.request_id}: {CHEAP} vs {STRONG}, disagreed"
    (kept,) = await samples.samples()
    assert kept.agreed is False and kept.request_id == request.request_id
    assert kept.served_cost_pusd == int(CHEAP_COST * 10**12)
    assert kept.shadow_cost_pusd == int(STRONG_COST * 10**12)
    assert (kept.served_answer, kept.shadow_answer) == ("4", "5")
    assert kept.prompt == "What is 2 + 2?"
    # the strong model got the request as the provider got it, not streamed, renamed
    sent = strong.requests[0]
    assert sent.model == STRONG and not sent.stream and sent.endpoint == "shadow"


async def test_the_judge_call_is_booked_in_the_same_row(samples: SqliteShadowSamples) -> None:
    """Judge gpt-4o-mini answers 50 in / 10 out: 50 x 0.15/M + 10 x 0.6/M = $0.0000135."""

    def answer(req: ChatRequest) -> ChatResponse:
        if req.model == CHEAP:  # the judge
            return reply(req, "SAME", Usage(input_tokens=50, output_tokens=10))
        return reply(req, "four", USAGE)

    strong = FakeUpstream(answer)
    judge = LlmJudge(CHEAP, strong)
    task_rules = rules(compare=judge, comparator="judge", judge_model=CHEAP)
    shadow, ledger = make(samples, strong, task_rules)
    cheap = cheap_answer("4")
    await shadow(lambda req: cheap(routed(req)))(ask())
    await shadow.drain(5)
    (row,) = ledger.rows
    judge_cost = Decimal("0.0000135")
    assert row.cost_usd == STRONG_COST + judge_cost
    assert row.savings == {"shadow": -(STRONG_COST + judge_cost)}
    assert [c.call.model for c in row.calls] == [STRONG, CHEAP]
    (kept,) = await samples.samples()
    assert kept.agreed is True and kept.comparator == "judge"
    assert kept.judge_cost_pusd == int(judge_cost * 10**12)


async def test_a_failed_judge_leaves_the_sample_unjudged_and_its_cost_unknown(
    samples: SqliteShadowSamples,
) -> None:
    """The judge call failed after reaching the provider: it may have been billed, so the
    row's cost is unknown (never the strong call alone), the row is no error (the strong
    model answered) and the sample is kept with no verdict."""

    def answer(req: ChatRequest) -> ChatResponse:
        if req.model == CHEAP:  # the judge
            error = UpstreamError("judge down", status=503, provider="openai")
            error.reached_upstream = True
            raise error
        return reply(req, "four", USAGE)

    strong = FakeUpstream(answer)
    task_rules = rules(compare=LlmJudge(CHEAP, strong), comparator="judge", judge_model=CHEAP)
    shadow, ledger = make(samples, strong, task_rules)
    cheap = cheap_answer("4")
    await shadow(lambda req: cheap(routed(req)))(ask())
    await shadow.drain(5)
    (row,) = ledger.rows
    assert row.cost_usd is None and row.savings == {"shadow": None}
    assert row.error is None and row.detail is not None and row.detail.endswith("not judged")
    assert [(c.call.model, c.call.usage_reported) for c in row.calls] == [
        (STRONG, True),
        (CHEAP, False),
    ]
    (kept,) = await samples.samples()
    assert kept.agreed is None and kept.shadow_answer == "four"
    assert kept.shadow_cost_pusd == int(STRONG_COST * 10**12) and kept.judge_cost_pusd is None


async def test_only_a_sampled_share_is_shadowed(samples: SqliteShadowSamples) -> None:
    draws = iter([0.2, 0.6, 0.4, 0.9])
    strong = FakeUpstream(lambda req: reply(req, "4", USAGE))
    shadow, _ = make(samples, strong, rules(sample_rate=0.5), random=lambda: next(draws))
    cheap = cheap_answer()
    handler = shadow(lambda req: cheap(routed(req)))
    for _ in range(4):
        await handler(ask())
    await shadow.drain(5)
    assert len(strong.requests) == 2  # the draws below 0.5


async def test_answers_the_strong_model_gave_itself_are_not_shadowed(
    samples: SqliteShadowSamples,
) -> None:
    strong = FakeUpstream()
    shadow, _ = make(samples, strong)
    await shadow(FakeUpstream())(ask())  # served by gpt-4o, the strong model
    await shadow(cheap_answer())(request_for(CHEAP, "hi", task="other"))  # task not shadowed
    await shadow.drain(5)
    assert strong.requests == []


async def test_answers_that_are_not_plain_text_are_not_shadowed(
    samples: SqliteShadowSamples,
) -> None:
    def tool_call(req: ChatRequest) -> ChatResponse:
        response = reply(routed(req), "x", USAGE, model=CHEAP)
        assert response.body is not None
        response.body["choices"][0]["finish_reason"] = "tool_calls"
        return response

    strong = FakeUpstream()
    shadow, _ = make(samples, strong)
    await shadow(FakeUpstream(tool_call))(ask())
    await shadow.drain(5)
    assert strong.requests == []


async def test_a_stream_is_shadowed_once_complete_and_never_when_cut(
    samples: SqliteShadowSamples,
) -> None:
    strong = FakeUpstream(lambda req: reply(req, "ok", USAGE))
    shadow, _ = make(samples, strong)

    def streamed(req: ChatRequest) -> ChatResponse:
        return stream_reply(routed(req), ("o", "k"), USAGE, model=CHEAP)

    response = await shadow(FakeUpstream(streamed))(ask(stream=True))
    assert strong.requests == []  # nothing before the stream ends
    await collect(response)
    await shadow.drain(5)
    assert len(strong.requests) == 1
    (kept,) = await samples.samples()
    assert kept.agreed is True

    def cut(req: ChatRequest) -> ChatResponse:
        return stream_reply(routed(req), ("o", "k"), USAGE, model=CHEAP, fail_after=1)

    response = await shadow(FakeUpstream(cut))(ask(stream=True))
    with pytest.raises(Exception, match="cut the stream"):
        await collect(response)
    await shadow.drain(5)
    assert len(strong.requests) == 1


async def test_the_daily_budget_stops_shadowing(samples: SqliteShadowSamples) -> None:
    """Budget $0.006: the first shadow call ($0.0045, estimated at the same) fits, a second
    would reach $0.009."""
    strong = FakeUpstream(lambda req: reply(req, "4", USAGE))
    budget = MemoryCounters()
    shadow, ledger = make(samples, strong, rules(budget_pusd=6 * 10**9), budget=budget)
    cheap = cheap_answer()
    handler = shadow(lambda req: cheap(routed(req)))
    for _ in range(3):
        await handler(ask())
        await shadow.drain(5)
    assert len(strong.requests) == 1 and len(ledger.rows) == 1


async def test_the_budget_settles_on_the_actual_cost(samples: SqliteShadowSamples) -> None:
    """Estimated at $0.0045 (the served tokens on gpt-4o); the strong model answered with
    1,000 in / 400 out = $0.0065, which is what the day's counter holds afterwards."""
    strong = FakeUpstream(lambda req: reply(req, "4", Usage(input_tokens=1000, output_tokens=400)))
    budget = MemoryCounters(clock=lambda: 0.0)
    shadow, _ = make(samples, strong, budget=budget, clock=lambda: 0.0)
    cheap = cheap_answer()
    await shadow(lambda req: cheap(routed(req)))(ask())
    await shadow.drain(5)
    assert await budget.get("shadow:1970-01-01:qa") == int(Decimal("0.0065") * 10**12)


async def test_a_strong_model_with_no_price_is_never_shadowed(
    samples: SqliteShadowSamples,
) -> None:
    strong = FakeUpstream()
    shadow, _ = make(samples, strong, rules(model="my-private-model"))
    cheap = cheap_answer()
    await shadow(lambda req: cheap(routed(req)))(ask())
    await shadow.drain(5)
    assert strong.requests == []


async def test_a_failed_shadow_call_is_booked_and_never_reaches_the_app(
    samples: SqliteShadowSamples,
) -> None:
    def fail(req: ChatRequest) -> ChatResponse:
        error = UpstreamError("upstream answered 500", provider="openai")
        error.reached_upstream = True  # type: ignore[attr-defined]
        raise error

    shadow, ledger = make(samples, FakeUpstream(fail))
    cheap = cheap_answer()
    response = await shadow(lambda req: cheap(routed(req)))(ask())
    assert response.model == CHEAP
    await shadow.drain(5)
    (row,) = ledger.rows
    assert row.cost_usd is None and row.savings == {"shadow": None}  # may have been billed
    assert row.failure == "upstream" and row.error is not None
    (kept,) = await samples.samples()
    assert kept.agreed is None and kept.error is not None and kept.shadow_cost_pusd is None


async def test_calls_beyond_max_in_flight_are_skipped(samples: SqliteShadowSamples) -> None:
    release = asyncio.Event()

    async def slow(req: ChatRequest) -> ChatResponse:
        await release.wait()
        return reply(req, "4", USAGE)

    strong = FakeUpstream(slow)
    shadow, _ = make(samples, strong, max_in_flight=2)
    cheap = cheap_answer()
    handler = shadow(lambda req: cheap(routed(req)))
    for _ in range(4):
        await handler(ask())
    assert shadow.in_flight == 2
    release.set()
    await shadow.drain(5)
    assert len(strong.requests) == 2


async def test_close_cancels_what_is_left_and_books_it_as_unknown(
    samples: SqliteShadowSamples, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thrifty.levers.cheaper.shadow import stage

    monkeypatch.setattr(stage, "DRAIN_S", 0.05)
    hang = asyncio.Event()

    async def never(req: ChatRequest) -> ChatResponse:
        await hang.wait()
        raise AssertionError("unreachable")

    shadow, ledger = make(samples, FakeUpstream(never))
    cheap = cheap_answer()
    handler = shadow(lambda req: cheap(routed(req)))
    await handler(ask())
    await asyncio.sleep(0.01)
    await shadow.close()
    assert shadow.in_flight == 0
    (row,) = ledger.rows
    assert row.cost_usd is None and row.error is not None and "shut down" in row.error
    await handler(ask())  # a closed stage takes no more samples
    assert shadow.in_flight == 0
