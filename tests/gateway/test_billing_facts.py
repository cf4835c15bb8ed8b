"""Through the gateway, with the official SDKs: the service tier the provider reports and
server-tool uses are booked at their own prices (defects found by golden checks: a
priority gpt-4o call was booked 41% under, a flex o3 call 2x over, web searches never)."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway

M = Decimal(1_000_000)


@pytest.mark.parametrize(
    ("model", "tier", "rates"),
    [
        ("gpt-4o", "priority", (Decimal("4.25"), Decimal("17"))),  # standard: 2.50 / 10
        ("o3", "flex", (Decimal("1"), Decimal("4"))),  # standard: 2 / 8
    ],
)
async def test_service_tier_is_priced_as_billed(
    gateway: Gateway,
    oai: openai.AsyncOpenAI,
    model: str,
    tier: str,
    rates: tuple[Decimal, Decimal],
) -> None:
    raw = await oai.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": "hello"}],
        service_tier=tier,  # type: ignore[arg-type]
    )
    completion = raw.parse()
    assert completion.service_tier == tier and completion.usage is not None
    usage = completion.usage
    expected = (usage.prompt_tokens * rates[0] + usage.completion_tokens * rates[1]) / M
    assert Decimal(raw.headers["x-thrifty-cost-usd"]) == expected
    [row] = gateway.rows()
    assert row.service_tier == tier and row.calls[0].call.service_tier == tier
    assert row.cost_usd == expected
    assert row.baseline_usd == expected and row.saved_usd == 0  # the app chose the tier


async def test_web_searches_are_booked(gateway: Gateway, ant: anthropic.AsyncAnthropic) -> None:
    message = await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=200,
        messages=[{"role": "user", "content": "what is new today?"}],
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    )
    usage = message.usage
    assert usage.server_tool_use is not None
    searches = usage.server_tool_use.web_search_requests
    assert searches >= 1
    tokens = (usage.input_tokens * Decimal(3) + usage.output_tokens * Decimal(15)) / M
    fees = searches * Decimal(10) / 1000  # $10 per 1,000 searches
    [row] = gateway.rows()
    assert row.calls[0].call.server_tools == (("web_search", searches),)
    assert row.cost_usd == tokens + fees


async def test_upstream_request_ids_reach_the_sdks(
    gateway: Gateway, oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    """Defect: the providers' request ids were dropped, so `_request_id` was None in both
    SDKs (and support tickets had nothing to quote)."""
    completion = await oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion._request_id is not None and completion._request_id.startswith("req_")
    message = await ant.messages.create(
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert message._request_id is not None and message._request_id.startswith("req_")
    with pytest.raises(anthropic.RateLimitError) as caught:
        await ant.messages.create(
            model="claude-haiku-4-5",
            max_tokens=20,
            messages=[{"role": "user", "content": "[[sim:fault=429]]"}],
        )
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")
