"""The official openai SDK talks to the gateway over loopback, streaming and not."""

from __future__ import annotations

from decimal import Decimal

import httpx
import openai
import pytest

from tests.gateway.conftest import Gateway

M = Decimal(1_000_000)
# gpt-4o / gpt-4o-mini list prices, USD per million tokens (input, output).
GPT_4O = (Decimal("2.5"), Decimal("10"))
GPT_4O_MINI = (Decimal("0.15"), Decimal("0.6"))


async def test_chat_completion_round_trip_books_exact_cost(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    raw = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Say hello"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    expected = (usage.prompt_tokens * GPT_4O[0] + usage.completion_tokens * GPT_4O[1]) / M
    assert Decimal(raw.headers["x-thrifty-cost-usd"]) == expected
    assert Decimal(raw.headers["x-thrifty-baseline-usd"]) == expected
    assert raw.headers["x-thrifty-levers"] == "none"
    [row] = gateway.rows()
    assert (row.model, row.requested_model, row.status) == ("gpt-4o", "gpt-4o", 200)
    assert row.cost_usd == expected
    assert row.usage.input_tokens == usage.prompt_tokens
    assert row.usage.output_tokens == usage.completion_tokens
    assert row.endpoint == "/v1/chat/completions"
    assert row.tenant is not None and "app-key" not in row.tenant


async def test_task_header_routes_to_cheap_model_and_books_saving(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    raw = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Summarise this please"}],
        extra_headers={"X-Thrifty-Task": "summarize"},
    )
    completion = raw.parse()
    assert completion.usage is not None
    p, c = completion.usage.prompt_tokens, completion.usage.completion_tokens
    cost = (p * GPT_4O_MINI[0] + c * GPT_4O_MINI[1]) / M
    baseline = (p * GPT_4O[0] + c * GPT_4O[1]) / M
    assert raw.headers["x-thrifty-model"] == "gpt-4o-mini"
    assert raw.headers["x-thrifty-levers"] == "routing"
    assert Decimal(raw.headers["x-thrifty-cost-usd"]) == cost
    assert Decimal(raw.headers["x-thrifty-saved-usd"]) == baseline - cost
    [row] = gateway.rows()
    assert (row.task, row.requested_model, row.model) == ("summarize", "gpt-4o", "gpt-4o-mini")
    assert row.baseline_usd == baseline
    assert dict(row.savings) == {"routing": baseline - cost}


async def test_an_alias_is_booked_as_the_model_it_names(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    """Defect: the ledger stored the alias as requested_model; it stores the resolved model
    and keeps the alias in its own field, and an alias is no saving."""
    raw = await oai.chat.completions.with_raw_response.create(
        model="cheap", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-thrifty-model"] == "gpt-4o-mini"
    assert raw.headers["x-thrifty-levers"] == "none"
    assert Decimal(raw.headers["x-thrifty-saved-usd"]) == 0
    [row] = gateway.rows()
    assert (row.requested_model, row.requested_alias, row.model) == (
        "gpt-4o-mini",
        "cheap",
        "gpt-4o-mini",
    )
    assert row.baseline_usd == row.cost_usd and row.saved_usd == 0 and row.savings == {}
    assert [(c.call.model, c.call.lever) for c in row.calls] == [("gpt-4o-mini", None)]


async def test_task_in_metadata_routes_too(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    raw = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        metadata={"thrifty_task": "summarize"},
    )
    assert raw.headers["x-thrifty-model"] == "gpt-4o-mini"


async def test_unmapped_task_keeps_requested_model(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    raw = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Thrifty-Task": "translate"},
    )
    assert raw.headers["x-thrifty-model"] == "gpt-4o"
    [row] = gateway.rows()
    assert row.savings == {} or all(v == 0 for v in row.savings.values())


async def test_streaming_with_usage(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Stream me something"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = [], None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            usage = chunk.usage
    assert "".join(text)
    assert usage is not None
    [row] = gateway.rows()
    assert row.stream and row.status == 200
    assert row.usage.input_tokens == usage.prompt_tokens
    assert row.usage.output_tokens == usage.completion_tokens
    expected = (usage.prompt_tokens * GPT_4O_MINI[0] + usage.completion_tokens * GPT_4O_MINI[1]) / M
    assert row.cost_usd == expected


async def test_streaming_without_include_usage_still_books_usage(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert chunks and all(chunk.usage is None for chunk in chunks)
    [row] = gateway.rows()
    assert row.usage.input_tokens > 0 and row.usage.output_tokens > 0


async def test_stream_and_non_stream_answers_agree(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    messages = [{"role": "user", "content": "same question"}]
    whole = await oai.chat.completions.create(model="gpt-4o", messages=messages)
    stream = await oai.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
    streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert streamed == whole.choices[0].message.content


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("429", openai.RateLimitError),
        ("500", openai.InternalServerError),
        ("503", openai.InternalServerError),
    ],
)
async def test_upstream_errors_keep_status(
    gateway: Gateway, oai: openai.AsyncOpenAI, fault: str, error: type[openai.APIStatusError]
) -> None:
    with pytest.raises(error) as caught:
        await oai.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"[[sim:fault={fault}]]"}]
        )
    assert caught.value.status_code == int(fault)
    [row] = gateway.rows()
    assert row.status == int(fault) and row.error
    # and the gateway keeps serving
    ok = await oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "still there?"}]
    )
    assert ok.choices[0].message.content


async def test_models_endpoint_lists_aliases(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    models = await oai.models.list()
    assert "cheap" in [m.id for m in models.data]


async def test_stream_cut_midway_ends_with_an_error_event(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    stream = await oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "long answer please [[sim:fault=cut]]"}],
        stream=True,
    )
    with pytest.raises(openai.APIError, match=r"cut|ended"):
        async for _ in stream:
            pass
    [row] = gateway.rows()
    # The app got HTTP 200 and then an error event: the row says so (status 200, the
    # failure in its own column), and the output seen so far is booked as an estimate.
    assert row.stream and row.status == 200 and row.failure == "mid_stream"
    assert row.error is not None and "stream_interrupted" in row.error
    assert row.cost_estimated and row.cost_usd is not None and row.cost_usd > 0


async def test_stream_ends_with_a_cost_comment(gateway: Gateway) -> None:
    body = {
        "model": "gpt-4o",
        "stream": True,
        "messages": [{"role": "user", "content": "cost comment please"}],
        "metadata": {"thrifty_task": "summarize"},
    }
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    *events, last = [e for e in response.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    [row] = gateway.rows()
    assert row.cost_usd is not None and row.baseline_usd is not None
    saved = row.baseline_usd - row.cost_usd
    assert saved > 0
    fields = dict(part.split("=") for part in last.removeprefix(": thrifty ").split())
    assert Decimal(fields["cost-usd"]) == row.cost_usd
    assert Decimal(fields["baseline-usd"]) == row.baseline_usd
    assert Decimal(fields["saved-usd"]) == saved
    assert "cost-estimated" not in fields


async def test_a_cut_stream_says_its_cost_is_an_estimate(gateway: Gateway) -> None:
    body = {
        "model": "gpt-4o",
        "stream": True,
        "messages": [{"role": "user", "content": "long answer please [[sim:fault=cut]]"}],
    }
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    *events, last = [e for e in response.text.split("\n\n") if e]
    assert '"error"' in events[-1]  # the app got an error event after HTTP 200
    fields = dict(part.split("=") for part in last.removeprefix(": thrifty ").split())
    [row] = gateway.rows()
    assert fields["cost-estimated"] == "true" and row.cost_estimated
    assert row.cost_usd is not None and Decimal(fields["cost-usd"]) == row.cost_usd


@pytest.mark.parametrize("include_usage", [False, True])
async def test_stream_chunks_carry_usage_only_as_openai_would(
    gateway: Gateway, include_usage: bool
) -> None:
    """thrifty always asks the upstream for usage; an app that did not ask must not see the
    `"usage": null` key on every chunk (OpenAI sends no such key then), and one that did
    sees it on every chunk and the usage in the last."""
    import orjson

    body: dict[str, object] = {
        "model": "gpt-4o",
        "stream": True,
        "messages": [{"role": "user", "content": "a few words please"}],
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/v1/chat/completions", json=body)
    chunks = [
        orjson.loads(e.removeprefix("data: "))
        for e in response.text.split("\n\n")
        if e.startswith("data: {")
    ]
    assert len(chunks) > 2
    if include_usage:
        assert all("usage" in c and c["usage"] is None for c in chunks[:-1])
        assert chunks[-1]["usage"]["completion_tokens"] > 0
    else:
        assert all("usage" not in c for c in chunks)


async def test_translated_stream_chunks_carry_null_usage_when_asked(gateway: Gateway) -> None:
    """An OpenAI app streaming from a Claude model (task routed) with include_usage sees
    `"usage": null` on every chunk, then the usage, as OpenAI would send them."""
    import orjson

    body = {
        "model": "gpt-4o",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "a few words please"}],
        "metadata": {"thrifty_task": "impact"},  # routed to claude-sonnet-4-6
    }
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/v1/chat/completions", json=body)
    assert response.headers["x-thrifty-model"].startswith("claude")
    chunks = [
        orjson.loads(e.removeprefix("data: "))
        for e in response.text.split("\n\n")
        if e.startswith("data: {")
    ]
    assert len(chunks) > 2
    assert all("usage" in c and c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["usage"]["completion_tokens"] > 0
