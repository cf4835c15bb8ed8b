"""The exact cache through the gateway, with the official SDKs: hits streamed and not,
the x-thrifty-cache header both ways, the ledger rows, and tenants kept apart."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway

M = Decimal(1_000_000)
GPT_4O = (Decimal("2.5"), Decimal("10"))  # USD per million tokens: input, output
SONNET = (Decimal("3"), Decimal("15"))
ASK = [{"role": "user", "content": "Name three rivers"}]


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": ASK, "temperature": 0, **extra}


def message(**extra: Any) -> dict[str, Any]:
    # This SDK's create() has no ``temperature`` argument: sent through extra_body.
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 200,
        "messages": ASK,
        "extra_body": {"temperature": 0},
        **extra,
    }


async def test_openai_hit_is_the_same_answer_at_no_cost(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    first = await oai.chat.completions.with_raw_response.create(**chat())
    second = await oai.chat.completions.with_raw_response.create(**chat())
    assert first.headers["x-thrifty-cache"] == "miss"
    assert second.headers["x-thrifty-cache"] == "hit"
    assert second.headers["x-thrifty-levers"] == "cache"
    assert second.headers["x-thrifty-provider"] == "cache"
    a, b = first.parse(), second.parse()
    assert b.choices[0].message.content == a.choices[0].message.content
    assert b.usage == a.usage and a.usage is not None
    baseline = (a.usage.prompt_tokens * GPT_4O[0] + a.usage.completion_tokens * GPT_4O[1]) / M
    assert Decimal(second.headers["x-thrifty-cost-usd"]) == 0
    assert Decimal(second.headers["x-thrifty-saved-usd"]) == baseline
    miss_row, hit_row = gateway.rows()
    assert miss_row.cost_usd == baseline and len(miss_row.calls) == 1
    assert hit_row.cost_usd == 0 and hit_row.calls == ()
    assert hit_row.savings == {"cache": baseline} and hit_row.provider == "cache"
    assert hit_row.tenant == miss_row.tenant is not None


async def test_openai_stream_hit_is_a_proper_stream_with_usage(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    async def stream() -> tuple[str, str, Any]:
        raw = await oai.chat.completions.with_raw_response.create(
            **chat(stream=True, stream_options={"include_usage": True})
        )
        text, usage = [], None
        async for chunk in raw.parse():
            for choice in chunk.choices:
                text.append(choice.delta.content or "")
            usage = chunk.usage or usage
        return raw.headers["x-thrifty-cache"], "".join(text), usage

    miss, text, usage = await stream()
    hit, again, usage_again = await stream()
    assert (miss, hit) == ("miss", "hit")
    assert again == text and text
    assert usage is not None and usage_again is not None
    assert (usage_again.prompt_tokens, usage_again.completion_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    plain = await oai.chat.completions.with_raw_response.create(**chat())
    assert plain.headers["x-thrifty-cache"] == "hit"  # a stored stream serves a plain request
    assert plain.parse().choices[0].message.content == text
    rows = gateway.rows()
    assert [r.stream for r in rows] == [True, True, False]
    assert [len(r.calls) for r in rows] == [1, 0, 0]
    assert rows[1].savings == rows[2].savings == {"cache": rows[0].cost_usd}


async def test_anthropic_hits_streamed_and_not(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    first = await ant.messages.with_raw_response.create(**message())
    second = await ant.messages.with_raw_response.create(**message())
    assert (first.headers["x-thrifty-cache"], second.headers["x-thrifty-cache"]) == ("miss", "hit")
    a, b = await first.parse(), await second.parse()
    assert b.content == a.content and b.usage == a.usage
    async with ant.messages.stream(**message()) as streamed:
        text = "".join([t async for t in streamed.text_stream])
        final = await streamed.get_final_message()
    assert text == a.content[0].text  # type: ignore[union-attr]
    assert final.usage.input_tokens == a.usage.input_tokens
    assert final.usage.output_tokens == a.usage.output_tokens
    baseline = (a.usage.input_tokens * SONNET[0] + a.usage.output_tokens * SONNET[1]) / M
    rows = gateway.rows()
    assert [len(r.calls) for r in rows] == [1, 0, 0]
    assert rows[0].cost_usd == baseline
    assert rows[1].savings == rows[2].savings == {"cache": baseline}


async def test_an_anthropic_stream_is_stored_once_complete(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    async with ant.messages.stream(**message()) as streamed:
        text = "".join([t async for t in streamed.text_stream])
    raw = await ant.messages.with_raw_response.create(**message())
    assert raw.headers["x-thrifty-cache"] == "hit"
    assert (await raw.parse()).content[0].text == text  # type: ignore[union-attr]


async def test_tenants_never_share_an_entry(gateway: Gateway) -> None:
    async def ask(api_key: str, tenant: str | None = None) -> str:
        headers = {"x-thrifty-tenant": tenant} if tenant else {}
        async with openai.AsyncOpenAI(
            base_url=gateway.url + "/v1", api_key=api_key, max_retries=0
        ) as sdk:
            raw = await sdk.chat.completions.with_raw_response.create(
                **chat(), extra_headers=headers
            )
        return raw.headers["x-thrifty-cache"]

    assert await ask("key-one") == "miss"
    assert await ask("key-two") == "miss"  # another key is another tenant
    assert await ask("key-one") == "hit"
    assert await ask("key-one", "acme") == "miss"
    assert await ask("key-two", "acme") == "hit"  # the tenant named, whatever the key
    assert len({r.tenant for r in gateway.rows()}) == 3


async def test_the_app_can_bypass_or_refresh_and_is_told(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    async def ask(control: str | None = None, **extra: Any) -> str:
        headers = {"x-thrifty-cache": control} if control else {}
        raw = await oai.chat.completions.with_raw_response.create(
            **chat(**extra), extra_headers=headers
        )
        return raw.headers["x-thrifty-cache"]

    assert await ask() == "miss"
    assert await ask("bypass") == "bypass"
    assert await ask("refresh") == "refresh"
    assert await ask() == "hit"
    assert await ask(temperature=0.8) == "bypass"  # not deterministic: not memoized
    assert await ask("always", temperature=0.8) == "miss"
    assert await ask("always", temperature=0.8) == "hit"
    assert [len(r.calls) for r in gateway.rows()] == [1, 1, 1, 0, 1, 1, 0]


async def test_an_unknown_control_value_is_a_400(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="x-thrifty-cache must be one of"):
        await oai.chat.completions.create(**chat(), extra_headers={"x-thrifty-cache": "maybe"})


async def test_embeddings_are_memoized_per_input(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    model = "text-embedding-3-small"
    first = await oai.embeddings.with_raw_response.create(model=model, input=["red", "green"])
    assert first.headers["x-thrifty-cache"] == "miss"
    more = await oai.embeddings.with_raw_response.create(
        model=model, input=["green", "blue", "red"]
    )
    assert more.headers["x-thrifty-cache"] == "partial"
    a, b = first.parse(), more.parse()
    assert [d.embedding for d in b.data] == [
        a.data[1].embedding,
        b.data[1].embedding,
        a.data[0].embedding,
    ]
    assert len(b.data[1].embedding) == 1536
    again = await oai.embeddings.with_raw_response.create(model=model, input="blue")
    assert again.headers["x-thrifty-cache"] == "hit"
    assert again.parse().data[0].embedding == b.data[1].embedding
    rate = Decimal("0.02") / M
    rows = gateway.rows()
    assert [len(r.calls) for r in rows] == [1, 1, 0]
    red_green = rows[0].usage.input_tokens
    assert rows[1].cost_usd == rows[1].usage.input_tokens * rate  # "blue" alone
    assert rows[1].savings == {"cache": red_green * rate}
    assert rows[2].savings == {"cache": rows[1].usage.input_tokens * rate}


async def test_a_truncated_answer_is_not_stored(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    first = await oai.chat.completions.with_raw_response.create(**chat(max_tokens=3))
    assert first.parse().choices[0].finish_reason == "length"
    second = await oai.chat.completions.with_raw_response.create(**chat(max_tokens=3))
    assert (first.headers["x-thrifty-cache"], second.headers["x-thrifty-cache"]) == (
        "miss",
        "miss",
    )
    assert [len(r.calls) for r in gateway.rows()] == [1, 1]
