"""Chat history through the gateway, with the official SDKs against the simulator (which
validates every request in its dialect): a long conversation is cut, booked and explained
in a header; a summary is a booked call; a malformed one passes through with a warning.

Rates (USD per million tokens, genai-prices' bundled data): gpt-4o 2.50 in;
claude-sonnet-4-6 3 in; gpt-4o-mini 0.15 in / 0.60 out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings, running_gateway
from thrifty.tokens import TokenCounter

M = Decimal(1_000_000)
COUNTER = TokenCounter()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path,
        tasks={
            "chat": {
                "history": {"enabled": True, "policy": "last_n", "max_turns": 4, "step_turns": 4}
            },
            "memory": {
                "history": {
                    "enabled": True,
                    "policy": "summary",
                    "budget_tokens": 300,
                    "summary_model": "gpt-4o-mini",
                }
            },
        },
    )
    async with running_gateway(settings) as running:
        yield running


def task(name: str) -> dict[str, Any]:
    return {"extra_headers": {"x-thrifty-task": name}}


def turns(n: int) -> list[dict[str, Any]]:
    return [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"message {i}: " + "the quarterly figures look fine " * 4,
        }
        for i in range(n)
    ]


def tokens_of(model: str, messages: list[dict[str, Any]]) -> int:
    return sum(COUNTER.count_messages(model, [m]).tokens for m in messages)


async def test_openai_last_n_cut_is_booked_at_the_input_rate(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    messages = turns(13)
    answer = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Be brief."}, *messages],
        **task("chat"),
    )
    assert answer.headers["x-thrifty-history"] == "last_n: dropped 8 of 13 turns"
    assert answer.parse().choices[0].message.content
    (row,) = gateway.rows()
    removed = tokens_of("gpt-4o", messages[:8])
    assert row.savings == {"history": removed * Decimal("2.5") / M}
    assert row.baseline_usage is not None and row.usage is not None
    assert row.baseline_usage.input_tokens == row.usage.input_tokens + removed


async def test_anthropic_last_n_cut_is_booked_at_the_input_rate(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    messages = turns(13)
    answer = await ant.messages.with_raw_response.create(
        model="claude-sonnet-4-6",
        max_tokens=50,
        system="Be brief.",
        messages=messages,
        **task("chat"),
    )
    assert answer.headers["x-thrifty-history"] == "last_n: dropped 8 of 13 turns"
    (row,) = gateway.rows()
    removed = tokens_of("claude-sonnet-4-6", messages[:8])
    assert row.savings == {"history": removed * Decimal(3) / M}


async def test_a_summary_is_a_booked_call_and_a_system_note(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    messages = turns(13)
    answer = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=messages, **task("memory")
    )
    assert answer.headers["x-thrifty-history"].endswith("summarised")
    (row,) = gateway.rows()
    (summary, main) = row.calls
    assert summary.call.lever == "history" and summary.call.model == "gpt-4o-mini"
    assert main.call.lever is None and main.call.model == "gpt-4o"
    usage = summary.call.usage
    summary_usd = (usage.input_tokens * Decimal("0.15") + usage.output_tokens * Decimal("0.6")) / M
    saved = row.savings["history"]
    assert saved is not None
    assert row.baseline_usd is not None and row.cost_usd is not None
    assert saved == row.baseline_usd - row.cost_usd
    assert summary_usd > 0 and saved < (tokens_of("gpt-4o", messages) * Decimal("2.5") / M)


async def test_a_malformed_conversation_passes_with_a_warning(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    messages = turns(13)
    messages[3] = {"role": "assistant", "content": "   "}
    answer = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=messages, **task("chat")
    )
    assert answer.headers["x-thrifty-history-warning"] == "sent unchanged: turn 3 is empty"
    assert "x-thrifty-history" not in answer.headers
    (row,) = gateway.rows()
    assert row.savings == {}
