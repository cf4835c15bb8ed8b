"""Bad input and faults in the cascade: a tier that errors, hangs past its timeout or
returns invalid output escalates (every call booked) while a higher tier is there; per-tier
timeouts; settings that cannot work are start-up errors naming the task.

Rates (USD per million tokens): claude-haiku-4-5 1 in / 5 out; claude-sonnet-4-6 3 / 15;
claude-opus-4-1 15 / 75.
"""

from __future__ import annotations

import asyncio
import time
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
    usd,
)
from tests.levers.cheaper.cascade_kit import run as run_cascade
from thrifty.errors import ConfigError, UpstreamUnavailable
from thrifty.ledger import LedgerStore
from thrifty.testing import reply, request_for
from thrifty.types import ChatRequest, ChatResponse, Usage

USAGE = Usage(input_tokens=1000, output_tokens=200)
HAIKU_COST = usd((1000, "1"), (200, "5"))  # $0.002
SCHEMA = {"type": "object", "required": ["impact"], "properties": {"impact": {"type": "string"}}}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LedgerStore]:
    async for ledger in open_store(tmp_path):
        yield ledger


def ask(model: str = SONNET) -> ChatRequest:
    return request_for(model, "classify this", dialect="anthropic", task="impact")


def hangs_on(*slow: str, text: str = '{"impact": "low"}'):  # type: ignore[no-untyped-def]
    """An upstream on which ``slow`` models never answer (within a test's patience)."""

    async def answer(req: ChatRequest) -> ChatResponse:
        if req.model in slow:
            await asyncio.sleep(30)
        return reply(req, text, USAGE)

    return answer


async def test_invalid_json_escalates_and_both_calls_are_booked(store: LedgerStore) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        text = '{"impact": ' if req.model == HAIKU else '{"impact": "high"}'
        return reply(req, text, USAGE)

    response, row, upstream, _ = await run_cascade(store, plans(json_schema=SCHEMA), answer, ask())
    assert [r.model for r in upstream.requests] == [HAIKU, SONNET]
    assert response.headers["cascade"] == "escalated-tier-1"
    assert (
        row.detail is not None
        and "tier 0 claude-haiku-4-5 refused (schema: answer is not JSON)" in row.detail
    )
    assert [(c.call.model, c.call.lever) for c in row.calls] == [(HAIKU, "cascade"), (SONNET, None)]
    assert row.savings["cascade"] is not None and row.savings["cascade"] < 0
    check_sums(row)


async def test_json_against_the_schema_but_wrong_type_escalates(store: LedgerStore) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        text = '{"impact": 3}' if req.model == HAIKU else '{"impact": "high"}'
        return reply(req, text, USAGE)

    response, row, _, _ = await run_cascade(store, plans(json_schema=SCHEMA), answer, ask())
    assert response.headers["cascade"] == "escalated-tier-1"
    assert len(row.calls) == 2


async def test_a_hanging_tier_escalates_after_its_timeout(store: LedgerStore) -> None:
    started = time.monotonic()
    response, row, upstream, _ = await run_cascade(
        store, plans(tier_timeout_s=0.2), hangs_on(HAIKU), ask()
    )
    waited = time.monotonic() - started
    assert 0.2 <= waited < 5  # the tier's deadline, not the hang
    assert [r.model for r in upstream.requests] == [HAIKU, SONNET]
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.status == 200 and row.detail is not None
    assert "tier 0 claude-haiku-4-5 timed out after 0.2 s" in row.detail
    # the cut call was sent: it may have been billed, so the row's cost is unknown
    assert [(c.call.model, c.call.usage_reported) for c in row.calls] == [
        (HAIKU, False),
        (SONNET, True),
    ]
    assert row.cost_usd is None


async def test_each_tier_can_have_its_own_timeout(store: LedgerStore) -> None:
    """Haiku hangs (its own 0.1 s deadline), Sonnet answers after 0.3 s: more than Haiku's
    deadline, within its own (none given: the provider's), so it is accepted."""

    async def answer(req: ChatRequest) -> ChatResponse:
        if req.model == HAIKU:
            await asyncio.sleep(30)
        if req.model == SONNET:
            await asyncio.sleep(0.3)
        return reply(req, "impact: high", USAGE)

    response, row, upstream, _ = await run_cascade(
        store,
        plans(tiers=(HAIKU, SONNET, OPUS), regex="impact", tier_timeout_s={HAIKU: 0.1}),
        answer,
        ask(OPUS),
    )
    assert [r.model for r in upstream.requests] == [HAIKU, SONNET]
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.detail is not None and "timed out after 0.1 s" in row.detail
    assert "tier 1 claude-sonnet-4-6 accepted" in row.detail


async def test_a_hanging_middle_tier_escalates_to_the_top(store: LedgerStore) -> None:
    """Haiku refused (priced), Sonnet hangs past the shared deadline (unknown), Opus
    answers: three calls in the row, its cost unknown because of Sonnet's."""

    async def answer(req: ChatRequest) -> ChatResponse:
        if req.model == SONNET:
            await asyncio.sleep(30)
        return reply(req, "no" if req.model == HAIKU else "impact: high", USAGE)

    response, row, upstream, _ = await run_cascade(
        store,
        plans(tiers=(HAIKU, SONNET, OPUS), regex="impact", tier_timeout_s=0.1),
        answer,
        ask(OPUS),
    )
    assert [r.model for r in upstream.requests] == [HAIKU, SONNET, OPUS]
    assert response.headers["cascade"] == "escalated-tier-2"
    assert [(c.call.model, c.call.lever, c.call.usage_reported) for c in row.calls] == [
        (HAIKU, "cascade", True),
        (SONNET, "cascade", False),
        (OPUS, None, True),
    ]
    assert row.calls[0].cost.usd == HAIKU_COST == Decimal("0.002")
    assert row.cost_usd is None


async def test_a_hanging_agreement_call_escalates_and_the_first_answer_is_booked(
    store: LedgerStore,
) -> None:
    response, row, _, _ = await run_cascade(
        store,
        plans(agreement=True, agreement_model=OPUS, tier_timeout_s=0.1),
        hangs_on(OPUS, text="The answer is 42."),
        ask(),
    )
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.detail is not None and "agreement call timed out after 0.1 s" in row.detail
    models = [(c.call.model, c.call.usage_reported) for c in row.calls]
    assert sorted(models) == sorted([(OPUS, False), (HAIKU, True), (SONNET, True)])
    assert row.cost_usd is None


async def test_with_no_higher_tier_the_top_tier_failure_is_the_request_s(
    store: LedgerStore,
) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        if req.model == SONNET:
            raise UpstreamUnavailable("down", provider="anthropic")
        return reply(req, "no", USAGE)

    with pytest.raises(UpstreamUnavailable):
        await run_cascade(store, plans(regex="impact"), answer, ask())
    (row,) = store.rows()
    assert row.status == 502 and [c.call.model for c in row.calls] == [HAIKU]


async def test_the_top_tier_has_no_cascade_deadline(store: LedgerStore) -> None:
    """The last tier always answers: ``tier_timeout_s`` does not cut it (its provider's
    own timeouts do)."""

    async def answer(req: ChatRequest) -> ChatResponse:
        if req.model == SONNET:
            await asyncio.sleep(0.3)
        return reply(req, "no", USAGE)

    response, row, _, _ = await run_cascade(
        store, plans(regex="impact", tier_timeout_s=0.1), answer, ask()
    )
    assert response.headers["cascade"] == "escalated-tier-1" and row.status == 200


@pytest.mark.parametrize(
    ("timeouts", "message"),
    [
        ({SONNET: 1.0}, "tier_timeout_s names claude-sonnet-4-6, not a cheap tier"),
        ({"gpt-4o": 1.0}, "tier_timeout_s names gpt-4o, not a cheap tier"),
    ],
)
def test_a_timeout_for_a_model_that_is_not_a_cheap_tier_is_a_start_up_error(
    timeouts: dict[str, float], message: str
) -> None:
    with pytest.raises(ConfigError, match="task 'impact'") as caught:
        plans(tier_timeout_s=timeouts)
    assert message in str(caught.value)


@pytest.mark.parametrize("bad", [0, -1, 4000, {HAIKU: 0}])
def test_a_timeout_out_of_bounds_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="tier_timeout_s"):
        plans(tier_timeout_s=bad)


def test_the_agreement_model_may_have_its_own_timeout() -> None:
    (plan,) = plans(agreement=True, agreement_model=OPUS, tier_timeout_s={OPUS: 2}).by_task.values()
    assert plan.timeout_for(OPUS) == 2 and plan.timeout_for(HAIKU) is None


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ((HAIKU, SONNET, HAIKU), "claude-haiku-4-5 listed twice in tiers (a cycle)"),
        ((HAIKU, HAIKU), "listed twice"),
        ((HAIKU, "no-such-model"), "no provider serves no-such-model"),
    ],
)
def test_cycles_and_unknown_models_are_start_up_errors_naming_the_task(
    tiers: tuple[str, ...], message: str
) -> None:
    from thrifty.config import CascadeSettings
    from thrifty.levers.cheaper.cascade.plan import plan_for

    known = {HAIKU, SONNET}.__contains__
    with pytest.raises(ConfigError, match=r"\[tasks.impact.cascade\] cascade of task 'impact'"):
        plan_for("impact", CascadeSettings(tiers=tiers), known)
    with pytest.raises(ConfigError) as caught:
        plan_for("impact", CascadeSettings(tiers=tiers), known)
    assert message in str(caught.value)
