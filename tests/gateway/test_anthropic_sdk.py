"""The official anthropic SDK talks to the gateway over loopback, streaming and not."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import pytest

from tests.gateway.conftest import Gateway

M = Decimal(1_000_000)
# claude-sonnet-4-6, USD per million tokens.
SONNET_IN, SONNET_OUT = Decimal("3"), Decimal("15")
SONNET_READ, SONNET_WRITE_5M = Decimal("0.3"), Decimal("3.75")
LONG_SYSTEM = " ".join(f"policy{i % 50} clause" for i in range(1500))


def cached_request() -> dict[str, object]:
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 100,
        "system": [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "What does clause 7 say?"}],
    }


async def test_messages_round_trip_with_prompt_cache_costs(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    first = await ant.messages.with_raw_response.create(**cached_request())  # type: ignore[arg-type]
    second = await ant.messages.with_raw_response.create(**cached_request())  # type: ignore[arg-type]
    u1, u2 = (await first.parse()).usage, (await second.parse()).usage
    assert (u1.cache_creation_input_tokens or 0) > 0 and not u1.cache_read_input_tokens
    assert (u2.cache_read_input_tokens or 0) == u1.cache_creation_input_tokens
    write = Decimal(u1.cache_creation_input_tokens or 0)
    cost1 = (
        u1.input_tokens * SONNET_IN + write * SONNET_WRITE_5M + u1.output_tokens * SONNET_OUT
    ) / M
    read = Decimal(u2.cache_read_input_tokens or 0)
    cost2 = (u2.input_tokens * SONNET_IN + read * SONNET_READ + u2.output_tokens * SONNET_OUT) / M
    assert Decimal(first.headers["x-thrifty-cost-usd"]) == cost1
    assert Decimal(second.headers["x-thrifty-cost-usd"]) == cost2
    rows = gateway.rows()
    assert [r.cost_usd for r in rows] == [cost1, cost2]
    # Anthropic input_tokens excludes cache tokens; the ledger's input includes them.
    assert rows[1].usage.input_tokens == u2.input_tokens + u2.cache_read_input_tokens
    assert rows[1].usage.cache_read_tokens == u2.cache_read_input_tokens


async def test_messages_stream_books_cache_tokens(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    await ant.messages.create(**cached_request())  # type: ignore[arg-type]
    async with ant.messages.stream(**cached_request()) as stream:  # type: ignore[arg-type]
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert text
    rows = gateway.rows()
    assert len(rows) == 2 and rows[1].stream
    u = final.usage
    assert rows[1].usage.cache_read_tokens == u.cache_read_input_tokens
    assert rows[1].usage.output_tokens == u.output_tokens
    read = Decimal(u.cache_read_input_tokens or 0)
    expected = (u.input_tokens * SONNET_IN + read * SONNET_READ + u.output_tokens * SONNET_OUT) / M
    assert rows[1].cost_usd == expected


async def test_cut_stream_is_booked_as_an_estimate_with_the_status_the_app_got(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    """Defects: a cut Anthropic stream was booked as an exact cost from message_start's
    placeholder output count (1 token), and with status 502 though the app got HTTP 200."""
    request = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 400,
        "messages": [{"role": "user", "content": "a long answer please [[sim:fault=cut]]"}],
    }
    seen = ""
    with pytest.raises(anthropic.APIError):
        async with ant.messages.stream(**request) as stream:  # type: ignore[arg-type]
            async for text in stream.text_stream:
                seen += text
    assert seen  # part of the answer arrived before the cut
    [row] = gateway.rows()
    assert (row.status, row.failure) == (200, "mid_stream")
    assert row.cost_estimated and row.calls[0].call.usage_estimated
    assert row.usage.output_tokens > 1
    expected = (row.usage.input_tokens * SONNET_IN + row.usage.output_tokens * SONNET_OUT) / M
    assert row.cost_usd == expected


async def test_task_routes_anthropic_request(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    raw = await ant.messages.with_raw_response.create(
        model="claude-opus-4-1",
        max_tokens=50,
        messages=[{"role": "user", "content": "impact?"}],
        extra_headers={"x-thrifty-task": "impact"},
    )
    assert raw.headers["x-thrifty-model"] == "claude-sonnet-4-6"
    assert (await raw.parse()).content[0].type == "text"


@pytest.mark.parametrize(
    ("fault", "error"),
    [("429", anthropic.RateLimitError), ("529", anthropic.APIStatusError)],
)
async def test_upstream_errors_keep_status(
    gateway: Gateway,
    ant: anthropic.AsyncAnthropic,
    fault: str,
    error: type[anthropic.APIStatusError],
) -> None:
    with pytest.raises(error) as caught:
        await ant.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=20,
            messages=[{"role": "user", "content": f"[[sim:fault={fault}]]"}],
        )
    assert caught.value.status_code == int(fault)
    [row] = gateway.rows()
    assert row.status == int(fault)


@pytest.mark.parametrize(
    ("fault", "error", "kind"),
    [
        ("403", anthropic.PermissionDeniedError, "permission_error"),
        ("404", anthropic.NotFoundError, "not_found_error"),
        ("413", anthropic.APIStatusError, "request_too_large"),
    ],
)
async def test_upstream_error_type_follows_the_status(
    gateway: Gateway,
    ant: anthropic.AsyncAnthropic,
    fault: str,
    error: type[anthropic.APIStatusError],
    kind: str,
) -> None:
    """Defect: an upstream 403/404/413 reached Anthropic apps as authentication_error /
    invalid_request_error instead of the type Anthropic gives that status."""
    with pytest.raises(error) as caught:
        await ant.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=20,
            messages=[{"role": "user", "content": f"[[sim:fault={fault}]]"}],
        )
    assert caught.value.status_code == int(fault)
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == kind


async def test_gpt_stream_on_the_messages_endpoint_reports_input_at_the_start(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    """Defect: a GPT stream served on the Anthropic endpoint said input_tokens = 0 in
    message_start (OpenAI reports usage only at the end).  It now carries an estimate there
    and the exact count in the final message_delta."""
    start_input = None
    async with ant.messages.stream(
        model="gpt-4o",
        max_tokens=50,
        messages=[{"role": "user", "content": "please say a few words about the sea"}],
    ) as stream:
        async for event in stream:
            if event.type == "message_start":
                start_input = event.message.usage.input_tokens
        final = await stream.get_final_message()
    assert start_input is not None and start_input > 0
    [row] = gateway.rows()
    assert final.usage.input_tokens == row.usage.input_tokens  # exact at the end
