"""Golden costs across dialects: an OpenAI app answered by a Claude model and an Anthropic
app answered by a GPT model, streamed and not, are booked at the answering model's list
rates, priced by hand from the usage the app itself received (translated into its own
dialect: OpenAI ``prompt_tokens`` includes cached tokens, Anthropic ``input_tokens``
excludes them)."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway

M = Decimal(1_000_000)
# USD per million tokens (list prices).
SONNET_IN, SONNET_OUT = Decimal("3"), Decimal("15")
MINI_IN, MINI_CACHED, MINI_OUT = Decimal("0.15"), Decimal("0.075"), Decimal("0.6")
# Over OpenAI's 1,024-token minimum: the second request reads the prefix from its cache.
LONG_SYSTEM = " ".join(f"rule{i % 40} applies" for i in range(1400))


@pytest.mark.parametrize("stream", [False, True])
async def test_an_openai_app_answered_by_claude_is_booked_at_claude_rates(
    gateway: Gateway, oai: openai.AsyncOpenAI, stream: bool
) -> None:
    messages = [{"role": "user", "content": "describe the tides in a few words"}]
    if stream:
        chunks = await oai.chat.completions.create(
            model="claude-sonnet-4-6",
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        usages = [chunk.usage async for chunk in chunks if chunk.usage is not None]
        [usage] = usages
    else:
        completion = await oai.chat.completions.create(
            model="claude-sonnet-4-6",
            messages=messages,  # type: ignore[arg-type]
        )
        assert completion.usage is not None
        usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    expected = (usage.prompt_tokens * SONNET_IN + usage.completion_tokens * SONNET_OUT) / M
    [row] = gateway.rows()
    assert (row.model, row.provider, row.dialect, row.stream) == (
        "claude-sonnet-4-6",
        "anthropic",
        "openai",
        stream,
    )
    assert row.cost_usd == expected and row.baseline_usd == expected
    assert not row.cost_estimated and row.price_source == "genai-prices"


@pytest.mark.parametrize("stream", [False, True])
async def test_an_anthropic_app_answered_by_gpt_is_booked_at_gpt_rates_with_its_cache_reads(
    gateway: Gateway, ant: anthropic.AsyncAnthropic, stream: bool
) -> None:
    request = {
        "model": "gpt-4o-mini",
        "max_tokens": 60,
        "system": LONG_SYSTEM,
        "messages": [{"role": "user", "content": "which rule applies to boats?"}],
    }
    await ant.messages.create(**request)  # type: ignore[arg-type]  # fills the prefix cache
    if stream:
        async with ant.messages.stream(**request) as answer:  # type: ignore[arg-type]
            message = await answer.get_final_message()
    else:
        message = await ant.messages.create(**request)  # type: ignore[arg-type]
    usage = message.usage
    read = usage.cache_read_input_tokens or 0
    assert read > 0 and usage.input_tokens > 0  # Anthropic's input excludes the cache read
    expected = (
        usage.input_tokens * MINI_IN + read * MINI_CACHED + usage.output_tokens * MINI_OUT
    ) / M
    first, second = gateway.rows()
    assert (second.model, second.provider, second.dialect, second.stream) == (
        "gpt-4o-mini",
        "openai",
        "anthropic",
        stream,
    )
    assert second.usage.input_tokens == usage.input_tokens + read
    assert second.usage.cache_read_tokens == read
    assert second.cost_usd == expected and not second.cost_estimated
    # The first call read nothing from the cache: all of its input at the full rate.
    assert first.usage.cache_read_tokens == 0
    assert (
        first.cost_usd
        == (first.usage.input_tokens * MINI_IN + first.usage.output_tokens * MINI_OUT) / M
    )
