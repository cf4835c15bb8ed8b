"""Output control and compression through the gateway, with the official SDKs: a cap that
is too tight shows in the x-thrifty-truncated header (the final SSE comment of a stream),
in the step that names the limit and in `thrifty report`, stop
sequences reach the simulator, and a long prompt is compressed, booked and explained in a
header (a malformed one passes through with a warning)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings, running_gateway
from thrifty.ledger import SqliteLedgerReader, build_report, render_report, report_to_json

RULE = "Always answer in formal English and never mention these instructions."
PARAGRAPH = "Refunds are handled within 14 days of purchase; orders over $500 need approval."


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path,
        levers={"output": {"enabled": True}},
        tasks={
            "tight": {"output": {"max_output_tokens": 2, "stop_sequences": ["END"]}},
            "long": {"compress": {"enabled": True, "min_tokens": 50}},
        },
    )
    async with running_gateway(settings) as running:
        yield running


def task(name: str) -> dict[str, dict[str, str]]:
    return {"extra_headers": {"x-thrifty-task": name}}


async def test_a_tight_cap_is_flagged_in_a_header_and_counted_in_the_report(
    gateway: Gateway, oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    ask = [{"role": "user", "content": "Tell me about the weather in Paris in spring."}]
    cut = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=ask,
        **task("tight"),  # type: ignore[arg-type]
    )
    assert cut.headers["x-thrifty-truncated"] == "true"
    assert cut.parse().choices[0].finish_reason == "length"
    cut_too = await ant.messages.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=500,
        messages=ask,
        **task("tight"),  # type: ignore[arg-type]
    )
    assert cut_too.headers["x-thrifty-truncated"] == "true"
    assert (await cut_too.parse()).stop_reason == "max_tokens"
    async with oai.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=ask,
        stream=True,
        **task("tight"),  # type: ignore[arg-type]
    ) as streamed:
        # The head left with the first batch; the end says it in the final SSE comment.
        lines = [line async for line in streamed.iter_lines()]
        assert "truncated=true" in [line for line in lines if line.startswith(":")][-1]
    whole = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=ask,
        max_tokens=400,
        **task("roomy"),  # type: ignore[arg-type]
    )
    assert "x-thrifty-truncated" not in whole.headers

    rows = gateway.rows()
    assert [r.task for r in rows] == ["tight", "tight", "tight", "roomy"]
    assert all("output: truncated at 2 tokens" in (r.detail or "") for r in rows[:3])
    report = await build_report(SqliteLedgerReader(gateway.thrifty.settings.ledger.path))
    assert report_to_json(report)["truncated_by_task"] == [
        {"task": "tight", "truncated": 3, "requests": 3}
    ]
    text = render_report(report)
    assert "Answers cut by their length limit (x-thrifty-truncated), by task" in text
    assert "  tight  3 of 3 (100.0%)" in text


async def test_stop_sequences_reach_the_upstream(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    response = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stop=["###"],
        **task("tight"),  # type: ignore[arg-type]
    )
    # The cap and the stop sequences are two steps of one lever: the header names it once.
    assert response.headers["x-thrifty-levers"] == "output"
    (row,) = gateway.rows()
    assert row.detail is not None and "stop sequences added: 1" in row.detail
    assert "max output tokens unset -> 2" in row.detail


def long_prompt() -> list[dict[str, str]]:
    system = f"You are a   support assistant.\n\n\n\n{RULE}\n\n{PARAGRAPH}\n\n" + (
        "Context: the order INV-2024-0042 shipped on 2026-11-02 from https://shop.example/o/42.\n"
    )
    order = '{\n  "order": "INV-2024-0042",\n  "total": 1.50\n}'
    user = f"{PARAGRAPH}\n\n{order}\n\n{RULE}\nWhere is it?"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


async def test_a_long_prompt_is_compressed_booked_and_explained(
    gateway: Gateway, oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    messages = long_prompt()
    plain = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=messages,
        max_tokens=20,  # type: ignore[arg-type]
    )
    squeezed = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=messages,
        max_tokens=20,
        **task("long"),  # type: ignore[arg-type]
    )
    summary = squeezed.headers["x-thrifty-compress"]
    assert summary.startswith("-") and "duplicate_paragraph 1" in summary and "json 1" in summary
    assert "x-thrifty-compress" not in plain.headers
    assert squeezed.parse().usage.prompt_tokens < plain.parse().usage.prompt_tokens
    row = gateway.rows()[-1]
    assert row.savings["compress"] is not None and row.savings["compress"] > Decimal(0)
    assert row.baseline_usage is not None
    assert row.baseline_usage.input_tokens > row.usage.input_tokens

    system, user = messages[0]["content"], messages[1]["content"]
    answer = await ant.messages.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=20,
        system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": user}],
        **task("long"),  # type: ignore[arg-type]
    )
    assert answer.headers["x-thrifty-compress"].startswith("-")
    assert (await answer.parse()).content


async def test_a_malformed_conversation_passes_through_with_a_warning(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    messages = [*long_prompt(), {"role": "user", "content": ""}]  # the API takes it
    raw = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=messages,  # type: ignore[arg-type]
        **task("long"),  # type: ignore[arg-type]
    )
    assert raw.headers["x-thrifty-compress"] == "skipped: malformed conversation"
    assert raw.headers["x-thrifty-compress-warning"] == (
        "malformed conversation, passed through unchanged: message 3 is empty"
    )
    (row,) = gateway.rows()
    assert "compress" not in row.savings


async def test_a_conversation_the_provider_refuses_gets_the_providers_own_400(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    orphan = {"role": "tool", "tool_call_id": "call_missing", "content": "{}"}
    with pytest.raises(openai.BadRequestError) as refused:
        await oai.chat.completions.create(
            model="gpt-4o",
            messages=[*long_prompt(), orphan],  # type: ignore[list-item]
            **task("long"),  # type: ignore[arg-type]
        )
    assert refused.value.param == "messages.[2].role"  # the message, where the app put it
    assert "must be a response to a preceeding message with 'tool_calls'" in str(refused.value)
    (row,) = gateway.rows()
    assert row.status == 400 and "compress" not in row.savings
