"""Billing facts the simulator reports: the service tier, and web search usage."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

WEB_SEARCH_TOOL: dict[str, Any] = {
    "type": "web_search_20250305",
    "name": "web_search",
    "max_uses": 3,
}
MESSAGES: list[Any] = [{"role": "user", "content": "What is new in Lyon?"}]


def sse_payloads(raw: bytes) -> list[dict[str, Any]]:
    out = []
    for block in raw.split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                out.append(orjson.loads(line[6:]))
    return out


# -- OpenAI ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "reported"),
    [(None, "default"), ("auto", "default"), ("priority", "priority"), ("flex", "flex")],
)
async def test_openai_service_tier_is_echoed(
    oai: openai.AsyncOpenAI, asked: str | None, reported: str
) -> None:
    extra = {"service_tier": asked} if asked else {}
    completion = await oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **extra)
    assert completion.service_tier == reported
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        **extra,
    )
    tiers = {chunk.service_tier async for chunk in stream}
    assert tiers == {reported}


async def test_openai_unknown_service_tier_is_400(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            service_tier="gold",  # type: ignore[arg-type]
        )
    assert isinstance(info.value.body, dict) and info.value.body["param"] == "service_tier"


@pytest.mark.parametrize("model", ["gpt-4o-search-preview", "gpt-5-search-api"])
async def test_openai_search_model_cites_its_search(oai: openai.AsyncOpenAI, model: str) -> None:
    completion = await oai.chat.completions.create(
        model=model, messages=MESSAGES, web_search_options={}
    )
    annotations = completion.choices[0].message.annotations
    assert annotations and annotations[0].type == "url_citation"
    assert annotations[0].url_citation.url.startswith("https://")


async def test_openai_search_stream_sends_annotations(http: httpx.AsyncClient) -> None:
    body = {"model": "gpt-4o-mini-search-preview", "messages": MESSAGES, "stream": True}
    response = await http.post("/v1/chat/completions", json=body)
    chunks = sse_payloads(response.content)
    annotated = [c for c in chunks if c["choices"] and "annotations" in c["choices"][0]["delta"]]
    assert len(annotated) == 1
    assert annotated[0]["choices"][0]["delta"]["annotations"][0]["type"] == "url_citation"


async def test_openai_plain_model_has_no_citations(oai: openai.AsyncOpenAI) -> None:
    completion = await oai.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.annotations == []


async def test_openai_web_search_options_need_a_search_model(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await oai.chat.completions.create(model="gpt-4o", messages=MESSAGES, web_search_options={})
    assert isinstance(info.value.body, dict)
    assert info.value.body["param"] == "web_search_options"


# -- Anthropic -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "reported"),
    [
        (None, "standard"),
        ("auto", "standard"),
        ("standard_only", "standard"),
        ("priority", "priority"),
        ("batch", "batch"),
    ],
)
async def test_anthropic_service_tier_in_usage(
    ant: anthropic.AsyncAnthropic, asked: str | None, reported: str
) -> None:
    extra: dict[str, Any] = {"extra_body": {"service_tier": asked}} if asked else {}
    message = await ant.messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES, **extra
    )
    assert message.usage.service_tier == reported
    async with ant.messages.stream(
        model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES, **extra
    ) as stream:
        start = None
        async for event in stream:
            if event.type == "message_start":
                start = event.message.usage.service_tier
    assert start == reported


async def test_anthropic_unknown_service_tier_is_400(ant: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        await ant.messages.create(
            model="claude-haiku-4-5",
            max_tokens=50,
            messages=MESSAGES,
            extra_body={"service_tier": "gold"},
        )


async def test_anthropic_web_search_tool_reports_one_search(
    ant: anthropic.AsyncAnthropic,
) -> None:
    message = await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=200,
        messages=MESSAGES,
        tools=[WEB_SEARCH_TOOL],  # type: ignore[list-item]
    )
    assert [b.type for b in message.content] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_search_requests == 1
    plain = await ant.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=MESSAGES)
    assert plain.usage.server_tool_use is None
    assert [b.type for b in plain.content] == ["text"]


async def test_anthropic_web_search_stream(ant: anthropic.AsyncAnthropic) -> None:
    async with ant.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=200,
        messages=MESSAGES,
        tools=[WEB_SEARCH_TOOL],  # type: ignore[list-item]
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["server_tool_use", "web_search_tool_result", "text"]
    tool_use = final.content[0]
    assert tool_use.type == "server_tool_use" and tool_use.input == {
        "query": "What is new in Lyon?"
    }
    assert final.usage.server_tool_use is not None
    assert final.usage.server_tool_use.web_search_requests == 1
    assert final.content[2].type == "text" and final.content[2].text


async def test_anthropic_search_and_answer_are_the_same_with_and_without_stream(
    ant: anthropic.AsyncAnthropic,
) -> None:
    kw: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 200,
        "messages": MESSAGES,
        "tools": [WEB_SEARCH_TOOL],
    }
    whole = await ant.messages.create(**kw)
    async with ant.messages.stream(**kw) as stream:
        streamed = await stream.get_final_message()
    assert whole.usage.output_tokens == streamed.usage.output_tokens
    assert whole.content[2].type == streamed.content[2].type == "text"
    assert whole.content[2].text == streamed.content[2].text
