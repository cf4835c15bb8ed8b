"""The prompt-cache planner end to end: the official SDKs, through the gateway, to the
simulator (which validates both dialects and emulates both providers' caches).  Savings
are checked against hand arithmetic on the rates (USD per million tokens, genai-prices'
bundled data, `thrifty prices`): claude-sonnet-4-6 input 3, 5-minute cache write 3.75,
cache read 0.30; gpt-4o input 2.50, cache read 1.25."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings
from tests.levers.fewer_tokens.prompt_cache_kit import SYSTEM, long_text, tool
from thrifty.gateway import create_app
from thrifty.ledger import LedgerRow
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

M = Decimal(1_000_000)
SONNET = "claude-sonnet-4-6"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(tmp_path, levers={"prompt_cache": {"enabled": True}})
    thrifty = Thrifty(settings, environ={})
    server = await start_server(create_app(thrifty))
    try:
        yield Gateway(url=server.url, thrifty=thrifty, server=server)
    finally:
        await server.stop()


def only_saving(row: LedgerRow) -> Decimal | None:
    assert set(row.savings) <= {"prompt_cache"}
    return row.savings.get("prompt_cache")


async def ask(ant: anthropic.AsyncAnthropic, **kw: Any) -> Any:
    kw.setdefault("system", SYSTEM)
    kw.setdefault("messages", [{"role": "user", "content": "Where is my order?"}])
    return await ant.messages.with_raw_response.create(model=SONNET, max_tokens=32, **kw)


async def test_anthropic_write_then_read_books_premium_then_discount(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    first = await (await ask(ant)).parse()
    assert first.usage.cache_creation_input_tokens == 0  # seen once: not cached
    raw = await ask(ant)
    second = await raw.parse()
    assert raw.headers["x-thrifty-prompt-cache"] == "planned"
    written = second.usage.cache_creation_input_tokens
    assert written > 1024 and second.usage.cache_read_input_tokens == 0
    third = await (await ask(ant)).parse()
    read = third.usage.cache_read_input_tokens
    assert read == written and third.usage.cache_creation_input_tokens == 0
    rows = gateway.rows()
    assert [only_saving(r) for r in rows[:1]] == [None]
    # the write's premium: 3.75 - 3 per million written tokens
    assert only_saving(rows[1]) == -written * Decimal("0.75") / M
    # the read's discount: 3 - 0.30 per million read tokens
    assert only_saving(rows[2]) == read * Decimal("2.70") / M
    for row in rows:
        assert row.saved_usd == row.baseline_usd - row.cost_usd  # type: ignore[operator]
    assert rows[2].baseline_usage is not None
    assert rows[2].baseline_usage.cache_read_tokens == 0
    assert rows[2].baseline_usage.input_tokens == rows[2].usage.input_tokens


async def test_anthropic_four_breakpoints_stream_and_are_valid(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    tools = [tool(f"tool_{i}", words=150) for i in range(8)]
    examples: list[Any] = [
        {"role": "user", "content": long_text(900, seed=1)},
        {"role": "assistant", "content": long_text(900, seed=2)},
    ]
    history = [*examples, {"role": "user", "content": "first question"}]
    await ask(ant, tools=tools, messages=history)
    await ask(ant, tools=tools, messages=history)
    history += [
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": "and then?"},
    ]
    async with ant.messages.stream(
        model=SONNET, max_tokens=32, system=SYSTEM, tools=tools, messages=history
    ) as stream:
        final = await stream.get_final_message()
    assert final.usage.cache_read_input_tokens > 0  # the examples' entry, via the lookback
    assert final.usage.cache_creation_input_tokens > 0  # the conversation, for the next turn
    row = gateway.rows()[-1]
    assert row.status == 200 and row.stream
    read, wrote = final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens
    assert only_saving(row) == (read * Decimal("2.70") - wrote * Decimal("0.75")) / M


async def test_the_apps_own_breakpoint_is_left_as_it_is(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    system: Any = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    for _ in range(2):
        raw = await ask(ant, system=system)
    assert raw.headers["x-thrifty-prompt-cache"] == "app"
    assert (await raw.parse()).usage.cache_read_input_tokens > 0  # the app's own caching works
    assert all(r.savings == {} for r in gateway.rows())  # and is not claimed


async def test_openai_date_moved_makes_the_prefix_cacheable(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    usages = []
    for day in ("2026-11-29", "2026-11-30"):
        raw = await oai.chat.completions.with_raw_response.create(
            model="gpt-4o",
            messages=[
                {"role": "system", "content": f"Today is {day}.\n{SYSTEM}"},
                {"role": "user", "content": "Where is my order?"},
            ],
        )
        usages.append(raw.parse().usage)
    assert raw.headers["x-thrifty-prompt-cache"] == "planned"
    assert usages[0].prompt_tokens_details.cached_tokens == 0
    cached = usages[1].prompt_tokens_details.cached_tokens
    assert cached >= 1024
    row = gateway.rows()[-1]
    # every read is past the date (the first byte the planner changed): 2.50 - 1.25
    assert only_saving(row) == cached * Decimal("1.25") / M


async def test_openai_unstable_prefix_is_flagged(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    headers = []
    for n in range(9):
        raw = await oai.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": f"Session {n}: you answer questions."},
                {"role": "user", "content": "hi"},
            ],
        )
        headers.append(raw.headers.get("x-thrifty-prompt-cache"))
    assert headers[-2:] == ["unstable-prefix", "unstable-prefix"]
    assert "unstable-prefix" in (gateway.rows()[-1].detail or "")
    from thrifty.ledger import SqliteLedgerReader
    from thrifty.ledger.render import render_report
    from thrifty.ledger.report import build_report

    report = await build_report(SqliteLedgerReader(gateway.thrifty.settings.ledger.path))
    (line,) = report.cache_by_task
    assert line.unstable_prefix == headers.count("unstable-prefix") == 2
    assert "unstable prefix" in render_report(report)


async def test_report_shows_the_cache_hit_ratio_per_task(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    from thrifty.ledger import SqliteLedgerReader
    from thrifty.ledger.render import render_report
    from thrifty.ledger.report import build_report, report_to_json

    for task in ("support", "support", "support", "other"):
        await ant.messages.create(
            model=SONNET,
            max_tokens=16,
            system=SYSTEM,
            messages=[{"role": "user", "content": "hello"}],
            extra_headers={"x-thrifty-task": task},
        )
    rows = gateway.rows()
    support = [r for r in rows if r.task == "support"]
    read = sum(r.usage.cache_read_tokens for r in support)
    written = sum(r.usage.cache_write_tokens for r in support)
    prompt = sum(r.usage.input_tokens for r in support)
    assert read > 0 and written > 0
    report = await build_report(SqliteLedgerReader(gateway.thrifty.settings.ledger.path))
    lines = {line.key: line for line in report.cache_by_task}
    line = lines["support"]
    assert (line.input_tokens, line.cache_read_tokens, line.cache_write_tokens) == (
        prompt,
        read,
        written,
    )
    assert line.hit_ratio == Decimal(read) / Decimal(prompt)
    # the prefix does not depend on the task: "other" reads the entry "support" wrote
    assert lines["other"].cache_read_tokens == read
    text = render_report(report)
    assert "Prompt cache by task" in text
    share = (Decimal(read * 100) / Decimal(prompt)).quantize(Decimal("0.1"))
    assert f"{share}%" in text
    as_json = report_to_json(report)["cache_by_task"]
    assert {"task": "support", "input_tokens": prompt}.items() <= as_json[0].items()
