"""Shadow evaluation through the gateway: the openai SDK against the simulator.

Task ``qa`` is routed to gpt-4o-mini; every answer (sample_rate 1) is also asked of gpt-4o
in the background.  Costs are checked by hand: gpt-4o at $2.50 / $10 and gpt-4o-mini at
$0.15 / $0.60 per million input / output tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings
from thrifty.gateway import create_app
from thrifty.ledger import LedgerRow
from thrifty.levers.cheaper.shadow.samples import SqliteShadowSamples
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

M = Decimal(1_000_000)
TASK = {"x-thrifty-task": "qa"}


def shadow_lever(**extra: Any) -> dict[str, Any]:
    return {"enabled": True, "model": "gpt-4o", "sample_rate": 1.0, "comparator": "exact", **extra}


async def start(tmp_path: Path, lever: dict[str, Any]) -> tuple[Gateway, openai.AsyncOpenAI]:
    settings = make_settings(tmp_path, tasks={"qa": {"model": "gpt-4o-mini", "shadow": lever}})
    thrifty = Thrifty(settings, environ={})
    server = await start_server(create_app(thrifty))
    sdk = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="app-key", max_retries=0)
    return Gateway(url=server.url, thrifty=thrifty, server=server), sdk


@pytest.fixture
async def exact(tmp_path: Path) -> AsyncIterator[tuple[Gateway, openai.AsyncOpenAI]]:
    gateway, sdk = await start(tmp_path, shadow_lever())
    try:
        yield gateway, sdk
    finally:
        await sdk.close()
        await gateway.server.stop()


def shadow_rows(gateway: Gateway) -> list[LedgerRow]:
    return [r for r in gateway.rows() if r.endpoint == "shadow"]


async def wait_for_shadow_rows(gateway: Gateway, count: int) -> list[LedgerRow]:
    deadline = time.monotonic() + 20
    while len(shadow_rows(gateway)) < count:
        assert time.monotonic() < deadline, "the shadow calls were never booked"
        await asyncio.sleep(0.02)
    return shadow_rows(gateway)


def cost_of(row: LedgerRow, input_rate: str, output_rate: str) -> Decimal:
    return (
        row.usage.input_tokens * Decimal(input_rate)
        + row.usage.output_tokens * Decimal(output_rate)
    ) / M


async def test_a_cheap_answer_is_compared_with_the_strong_models_in_the_background(
    exact: tuple[Gateway, openai.AsyncOpenAI], tmp_path: Path
) -> None:
    gateway, sdk = exact
    same = await sdk.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "[[sim:echo]] What is 2 + 2?"}],
        extra_headers=TASK,
    )
    different = await sdk.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Tell me a story"}],
        extra_headers=TASK,
    )
    assert same.model == "gpt-4o-mini" and different.model == "gpt-4o-mini"
    rows = await wait_for_shadow_rows(gateway, 2)
    for row in rows:
        assert row.requested_model == "gpt-4o" and row.model.startswith("gpt-4o")
        assert row.task == "qa" and row.baseline_usd == Decimal(0)
        expected = cost_of(row, "2.50", "10")
        assert row.cost_usd == expected
        assert row.savings == {"shadow": -expected} and row.saved_usd == -expected
    assert sorted((r.detail or "").rsplit(", ", 1)[1] for r in rows) == ["agreed", "disagreed"]
    app_rows = [r for r in gateway.rows() if r.endpoint != "shadow"]
    assert {r.model for r in app_rows} == {"gpt-4o-mini"}
    assert all(r.savings.get("routing") for r in app_rows)  # the app's rows are untouched
    async with SqliteShadowSamples(tmp_path / "ledger-shadow.db") as store:
        (pair,) = await store.summary()
    assert (pair.task, pair.samples, pair.agreed, pair.disagreed) == ("qa", 2, 1, 1)


async def test_the_app_gets_its_answer_before_the_shadow_call_ends(
    exact: tuple[Gateway, openai.AsyncOpenAI],
) -> None:
    """The simulator takes 1.5 s per call here; the shadow call starts only once the app's
    answer is complete, so when the app has its answer the shadow row cannot exist yet."""
    gateway, sdk = exact
    started = time.monotonic()
    answer = await sdk.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "[[sim:echo]] [[sim:latency=1500]] Hi"}],
        extra_headers=TASK,
    )
    answered = time.monotonic()
    assert answer.choices[0].message.content == "Hi"
    assert shadow_rows(gateway) == []
    assert answered - started < 1.5 + 1.4  # not delayed by the second 1.5 s call
    (row,) = await wait_for_shadow_rows(gateway, 1)
    assert time.monotonic() - started >= 3.0  # both calls took their 1.5 s
    assert row.detail is not None and row.detail.endswith(", agreed")


async def test_a_streamed_answer_is_shadowed_after_its_end(
    exact: tuple[Gateway, openai.AsyncOpenAI],
) -> None:
    gateway, sdk = exact
    stream = await sdk.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "[[sim:echo]] one two three"}],
        extra_headers=TASK,
        stream=True,
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "one two three"
    (row,) = await wait_for_shadow_rows(gateway, 1)
    assert row.stream is False and row.detail is not None and row.detail.endswith(", agreed")


async def test_the_judge_is_a_second_booked_call(tmp_path: Path) -> None:
    """The two simulated stories differ in words: the simulator's judge double answers
    DIFFERENT."""
    gateway, sdk = await start(
        tmp_path, shadow_lever(comparator="judge", judge_model="gpt-4o-mini")
    )
    try:
        await sdk.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Tell me a story"}],
            extra_headers=TASK,
        )
        (row,) = await wait_for_shadow_rows(gateway, 1)
    finally:
        await sdk.close()
        await gateway.server.stop()
    strong, judge = row.calls
    assert strong.call.model.startswith("gpt-4o") and strong.call.lever == "shadow"
    assert judge.call.model.startswith("gpt-4o-mini") and judge.call.lever == "shadow"
    strong_cost = (
        strong.call.usage.input_tokens * Decimal("2.50")
        + strong.call.usage.output_tokens * Decimal("10")
    ) / M
    judge_cost = (
        judge.call.usage.input_tokens * Decimal("0.15")
        + judge.call.usage.output_tokens * Decimal("0.60")
    ) / M
    assert row.cost_usd == strong_cost + judge_cost
    assert row.savings == {"shadow": -(strong_cost + judge_cost)}
    assert judge.call.usage.output_tokens <= 5  # the one word DIFFERENT, within max_tokens
    assert row.detail is not None and row.detail.endswith(", disagreed")
