"""Upstream errors reach an app of the same dialect as the provider wrote them (keys
scrubbed): `param`, `code` and `type` intact.  Defect: they were rebuilt, so an OpenAI 429
`insufficient_quota` reached apps as `rate_limited` and they retried an exhausted quota."""

from __future__ import annotations

import anthropic
import openai
import pytest


async def test_openai_error_body_passes_through(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        await oai.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "[[sim:fault=429]]"}]
        )
    # The simulator's own OpenAI error: its code and type, not thrifty's rebuilt ones.
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "requests"
    assert "simulated" in caught.value.message


async def test_anthropic_error_body_passes_through(ant: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        await ant.messages.create(
            model="claude-haiku-4-5",
            max_tokens=20,
            messages=[{"role": "user", "content": "[[sim:fault=429]]"}],
        )
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "rate_limit_error"
    assert "simulated" in body["error"]["message"]


async def test_an_error_from_the_other_dialect_is_rebuilt_in_the_apps(
    oai: openai.AsyncOpenAI,
) -> None:
    """An OpenAI app routed to a Claude model gets an OpenAI-shaped error."""
    with pytest.raises(openai.RateLimitError) as caught:
        await oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "[[sim:fault=429]]"}],
            extra_headers={"X-Thrifty-Task": "impact"},  # routed to claude-sonnet-4-6
        )
    body = caught.value.body
    assert isinstance(body, dict) and "type" in body and "message" in body
