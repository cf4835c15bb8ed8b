"""A lever's warning about a request it sent on unchanged (and why) reaches the app even
when the provider then refuses the request or fails: the error answer carries the same
``x-thrifty-*-warning`` headers a success would have; and a summary the history lever paid
for before the main call failed is booked in that failure's row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings, running_gateway

MALFORMED = "malformed conversation, passed through unchanged: "


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path,
        tasks={
            "all": {
                "output": {"enabled": True, "max_output_tokens": 100},
                "compress": {"enabled": True, "min_tokens": 0},
                "prompt_cache": {"enabled": True},
                "history": {"enabled": True, "policy": "budget", "budget_tokens": 4000},
            },
            "summary": {
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


def task(name: str) -> dict[str, dict[str, str]]:
    return {"extra_headers": {"x-thrifty-task": name}}


async def test_the_warnings_stay_on_the_providers_refusal(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    """A tool result without its call: every lever passes it on unchanged and says why; the
    provider refuses it; the app's 400 still says what each lever saw."""
    orphan = {"role": "tool", "tool_call_id": "call_missing", "content": "{}"}
    with pytest.raises(openai.BadRequestError) as refused:
        await oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hello there"}, orphan],  # type: ignore[list-item]
            **task("all"),  # type: ignore[arg-type]
        )
    headers = refused.value.response.headers
    assert "must be a response to a preceeding message with 'tool_calls'" in str(refused.value)
    why = "message 2 has a tool result without its call"
    assert headers["x-thrifty-compress-warning"] == MALFORMED + why
    assert headers["x-thrifty-prompt-cache-warning"] == MALFORMED + why
    assert headers["x-thrifty-history-warning"].startswith("sent unchanged: turn 1 has a tool")
    assert headers["x-thrifty-error"] == "upstream_rejected"
    (row,) = gateway.rows()
    assert row.status == 400 and headers["x-thrifty-request-id"] == row.request_id


async def test_the_output_warning_stays_on_the_providers_refusal(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await oai.post(
            "/chat/completions",
            body={
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "hi"}],
                "stop": 5,
            },
            cast_to=object,
            options={"headers": {"x-thrifty-task": "all"}},
        )
    assert refused.value.param == "stop"
    assert "x-thrifty-output-warning" in refused.value.response.headers


async def test_a_summary_paid_for_is_booked_when_the_main_call_fails(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    turns: list[dict[str, str]] = []
    for i in range(12):
        turns.append({"role": "user", "content": f"question {i}: " + "tell me more " * 30})
        turns.append({"role": "assistant", "content": f"answer {i}: " + "here is more " * 30})
    turns.append({"role": "user", "content": "and now? [[sim:fault=500]]"})
    with pytest.raises(openai.InternalServerError):
        await oai.with_options(max_retries=0).chat.completions.create(
            model="gpt-4o",
            messages=turns,  # type: ignore[arg-type]
            **task("summary"),  # type: ignore[arg-type]
        )
    (row,) = gateway.rows()
    assert row.status == 500
    summaries = [c for c in row.calls if c.call.lever == "history"]  # one per cut step
    assert summaries and all(c.call.model.startswith("gpt-4o-mini") for c in summaries)
    costs = [c.cost.usd for c in summaries]
    assert all(usd is not None and usd > 0 for usd in costs)
    assert row.savings["history"] == -sum(usd for usd in costs if usd is not None)
    assert row.cost_usd is None or row.cost_usd >= sum(usd for usd in costs if usd is not None)
