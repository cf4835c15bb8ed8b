"""The escalation cascade through the gateway, with the official SDKs against the
simulator: accepted and escalated answers, streamed and not, a failing tier, logprobs, the
x-thrifty-cascade header, and the ledger rows priced by hand from each call's tokens.

Rates (USD per million tokens): claude-haiku-4-5 1 in / 5 out; claude-sonnet-4-6 3 / 15;
gpt-4o-mini 0.15 / 0.60; gpt-4o 2.50 / 10.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings
from tests.gateway.fewer_calls_kit import rows, running, sdks
from thrifty.errors import ConfigError
from thrifty.ledger import LedgerRow
from thrifty.runtime import Thrifty
from thrifty.types import Usage

M = Decimal(1_000_000)
RATES = {
    "claude-haiku-4-5": (Decimal(1), Decimal(5)),
    "claude-sonnet-4-6": (Decimal(3), Decimal(15)),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal(10)),
}
CLAUDE = ["claude-haiku-4-5", "claude-sonnet-4-6"]
TASKS = {
    "accept": {"cascade": {"tiers": CLAUDE, "regex": "^Simulated reply"}},
    "escalate": {"cascade": {"tiers": CLAUDE, "regex": "^never$"}},
    "logprobs": {"cascade": {"tiers": ["gpt-4o-mini", "gpt-4o"], "min_mean_logprob": -0.5}},
    "deadline": {"cascade": {"tiers": CLAUDE, "tier_timeout_s": {"claude-haiku-4-5": 0.5}}},
}
ASK = [{"role": "user", "content": "What is the impact of this change?"}]
OUTCOMES = [("accept", "accepted-tier-0"), ("escalate", "escalated-tier-1")]


def price(model: str, usage: Usage) -> Decimal:
    rate_in, rate_out = RATES[model]
    return (usage.input_tokens * rate_in + usage.output_tokens * rate_out) / M


def by_hand(row: LedgerRow) -> list[tuple[str, str | None, Decimal]]:
    """Each call of the row: model, lever, and its cost from its own tokens."""
    return [(c.call.model, c.call.lever, price(c.call.model, c.call.usage)) for c in row.calls]


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running(tmp_path, tasks=TASKS) as gateway:
        yield gateway


@pytest.fixture
async def clients(
    gw: Gateway,
) -> AsyncIterator[tuple[openai.AsyncOpenAI, anthropic.AsyncAnthropic]]:
    pair = sdks(gw)
    async with pair[0], pair[1]:
        yield pair


@pytest.fixture
def oai(clients: tuple[openai.AsyncOpenAI, anthropic.AsyncAnthropic]) -> openai.AsyncOpenAI:
    return clients[0]


@pytest.fixture
def ant(clients: tuple[openai.AsyncOpenAI, anthropic.AsyncAnthropic]) -> anthropic.AsyncAnthropic:
    return clients[1]


def task(name: str) -> dict[str, Any]:
    return {"extra_headers": {"x-thrifty-task": name}}


async def test_openai_sdk_accepted_cheap_answer(gw: Gateway, oai: openai.AsyncOpenAI) -> None:
    raw = await oai.chat.completions.with_raw_response.create(
        model="claude-sonnet-4-6", messages=ASK, **task("accept")
    )
    assert raw.headers["x-thrifty-cascade"] == "accepted-tier-0"
    answer = raw.parse()
    assert answer.choices[0].message.content.startswith("Simulated reply")
    (row,) = await rows(gw, 1)
    ((model, lever, cost),) = by_hand(row)
    assert (model, lever) == ("claude-haiku-4-5", None)
    assert row.cost_usd == cost
    assert row.baseline_usd == price("claude-sonnet-4-6", row.usage)
    assert row.savings == {"cascade": row.baseline_usd - cost}
    assert Decimal(raw.headers["x-thrifty-cost-usd"]) == cost


async def test_anthropic_sdk_escalation_books_both_calls(
    gw: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    raw = await ant.messages.with_raw_response.create(
        model="claude-sonnet-4-6", max_tokens=300, messages=ASK, **task("escalate")
    )
    assert raw.headers["x-thrifty-cascade"] == "escalated-tier-1"
    assert (await raw.parse()).content[0].text.startswith("Simulated reply")
    (row,) = await rows(gw, 1)
    (cheap, strong) = by_hand(row)
    assert (cheap[0], cheap[1], strong[0], strong[1]) == (
        "claude-haiku-4-5",
        "cascade",
        "claude-sonnet-4-6",
        None,
    )
    assert row.cost_usd == cheap[2] + strong[2]
    assert row.baseline_usd == strong[2]
    assert row.savings == {"cascade": -cheap[2]}
    assert row.detail is not None and "refused (regex: no match)" in row.detail


@pytest.mark.parametrize(
    ("name", "outcome"), [("accept", "accepted-tier-0"), ("escalate", "escalated-tier-1")]
)
async def test_openai_sdk_streams_either_way(
    gw: Gateway, oai: openai.AsyncOpenAI, name: str, outcome: str
) -> None:
    stream = await oai.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=ASK,
        stream=True,
        stream_options={"include_usage": True},
        **task(name),
    )
    assert stream.response.headers["x-thrifty-cascade"] == outcome
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text.startswith("Simulated reply") and usage is not None
    (row,) = await rows(gw, 1)
    assert row.stream and row.status == 200 and row.failure is None
    assert row.cost_usd == sum(cost for _, _, cost in by_hand(row))
    assert len(row.calls) == (1 if name == "accept" else 2)


@pytest.mark.parametrize(
    ("name", "outcome"), [("accept", "accepted-tier-0"), ("escalate", "escalated-tier-1")]
)
async def test_anthropic_sdk_streams_either_way(
    gw: Gateway, ant: anthropic.AsyncAnthropic, name: str, outcome: str
) -> None:
    async with ant.messages.stream(
        model="claude-sonnet-4-6", max_tokens=300, messages=ASK, **task(name)
    ) as stream:
        assert stream.response.headers["x-thrifty-cascade"] == outcome
        final = await stream.get_final_message()
    assert final.content[0].text.startswith("Simulated reply")  # type: ignore[union-attr]
    (row,) = await rows(gw, 1)
    assert row.stream and row.cost_usd == sum(cost for _, _, cost in by_hand(row))
    assert final.usage.output_tokens == row.calls[-1].call.usage.output_tokens


async def test_a_failing_cheap_tier_escalates_and_the_app_gets_its_answer(
    gw: Gateway, oai: openai.AsyncOpenAI
) -> None:
    assert gw.thrifty.simulator_url is not None
    async with httpx.AsyncClient() as http:
        await http.post(gw.thrifty.simulator_url + "/_sim/faults", json={"fault": "500"})
    raw = await oai.chat.completions.with_raw_response.create(
        model="claude-sonnet-4-6", messages=ASK, **task("accept")
    )
    assert raw.headers["x-thrifty-cascade"] == "escalated-tier-1"
    (row,) = await rows(gw, 1)
    assert row.status == 200
    assert row.detail is not None and "tier 0 claude-haiku-4-5 failed" in row.detail
    assert [m for m, _, _ in by_hand(row)] == ["claude-sonnet-4-6"]  # an error status: unbilled


async def test_a_slow_cheap_tier_escalates_after_its_timeout(
    gw: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    """The simulator holds the next answer 2 s; the cheap tier's deadline is 0.5 s: the
    app gets the strong tier's answer well before the cheap one would have come, and the
    cut call (sent, maybe billed) makes the row's cost unknown."""
    assert gw.thrifty.simulator_url is not None
    async with httpx.AsyncClient() as http:
        await http.post(gw.thrifty.simulator_url + "/_sim/faults", json={"fault": "slow"})
    started = time.monotonic()
    raw = await ant.messages.with_raw_response.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=ASK, **task("deadline")
    )
    assert time.monotonic() - started < 1.9
    assert raw.headers["x-thrifty-cascade"] == "escalated-tier-1"
    assert (await raw.parse()).model.startswith("claude-sonnet-4-6")
    (row,) = await rows(gw, 1)
    assert row.status == 200
    assert row.detail is not None and "tier 0 claude-haiku-4-5 timed out after 0.5 s" in row.detail
    assert [(c.call.model, c.call.usage_reported) for c in row.calls] == [
        ("claude-haiku-4-5", False),
        ("claude-sonnet-4-6", True),
    ]
    assert row.cost_usd is None


async def test_logprobs_decide_between_openai_tiers(gw: Gateway, oai: openai.AsyncOpenAI) -> None:
    sure = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ASK, **task("logprobs")
    )
    assert sure.headers["x-thrifty-cascade"] == "accepted-tier-0"
    hidden = sure.parse().choices[0].logprobs
    assert hidden is None  # asked by the cascade, not by the app
    hesitant = [{"role": "user", "content": "Which one? [[sim:logprob=-2]]"}]
    unsure = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=hesitant, logprobs=True, **task("logprobs")
    )
    assert unsure.headers["x-thrifty-cascade"] == "escalated-tier-1"
    kept = unsure.parse().choices[0].logprobs
    assert kept is not None  # the app asked: it keeps them
    first, second = await rows(gw, 2)
    assert [m for m, _, _ in by_hand(first)] == ["gpt-4o-mini"]
    assert [(m, lever) for m, lever, _ in by_hand(second)] == [
        ("gpt-4o-mini", "cascade"),
        ("gpt-4o", None),
    ]
    assert second.cost_usd == sum(cost for _, _, cost in by_hand(second))


async def test_a_misconfigured_cascade_stops_the_start_naming_the_task(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, tasks={"impact": {"cascade": {"tiers": ["claude-haiku-4-5", "no-such-model"]}}}
    )
    thrifty = Thrifty(settings, environ={})
    with pytest.raises(ConfigError, match=r"task 'impact'.*no provider serves no-such-model"):
        await thrifty.start()  # what the gateway's start-up (and the library's first call) runs
