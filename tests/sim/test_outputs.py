"""n choices, tool calls and structured output, through the official SDKs on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import anthropic
import openai
import pydantic
import pytest

from thrifty.sim import SimServer, count_tokens
from thrifty.sim.output import schema_instance


@pytest.fixture
async def oai_live(server: SimServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-x", max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def ant_live(server: SimServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="sk-x", max_retries=0)
    yield client
    await client.close()


class Address(pydantic.BaseModel):
    street: str
    zip_code: str = pydantic.Field(min_length=5, max_length=5)
    tags: list[str]


class Person(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=18, le=130)
    score: float = pydantic.Field(gt=0.5)
    kind: Literal["admin", "user"]
    active: bool
    nickname: str | None = None
    addresses: list[Address] = pydantic.Field(min_length=2)
    home: Address
    email: str = pydantic.Field(json_schema_extra={"format": "email"})


PERSON_SCHEMA = Person.model_json_schema()
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1},
        "opts": {
            "type": "object",
            "properties": {"hourly": {"type": "boolean"}, "skip": {"type": "string"}},
            "required": ["hourly"],
        },
    },
    "required": ["city", "unit", "days", "opts"],
}
OAI_TOOLS: Any = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "lookup_person", "parameters": PERSON_SCHEMA}},
]
ANT_TOOLS: Any = [
    {"name": "get_weather", "description": "weather", "input_schema": WEATHER},
    {"name": "lookup_person", "description": "people", "input_schema": PERSON_SCHEMA},
]


def test_schema_instance_is_valid() -> None:
    Person.model_validate(schema_instance(PERSON_SCHEMA))
    assert schema_instance(WEATHER) == {
        "city": "sim",
        "unit": "celsius",
        "days": 1,
        "opts": {"hourly": False},
    }
    assert schema_instance({"type": ["null", "number"], "exclusiveMaximum": -2}) == -2.5
    assert schema_instance({"type": "integer", "minimum": 3, "multipleOf": 5}) == 5
    assert schema_instance({"type": "array", "items": {"const": 1}, "minItems": 3}) == [1, 1, 1]


# -- n choices ---------------------------------------------------------------------------


async def test_n_choices(oai_live: openai.AsyncOpenAI) -> None:
    msgs: Any = [{"role": "user", "content": "Give me ideas"}]
    one = await oai_live.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    resp = await oai_live.chat.completions.create(model="gpt-4o-mini", messages=msgs, n=3)
    texts = [c.message.content or "" for c in resp.choices]
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert len(set(texts)) == 3
    assert texts[0] == one.choices[0].message.content  # choice 0 is the n=1 answer
    assert resp.usage is not None
    assert resp.usage.completion_tokens == sum(count_tokens(t) for t in texts)
    again = await oai_live.chat.completions.create(model="gpt-4o-mini", messages=msgs, n=3)
    assert [c.message.content for c in again.choices] == texts  # deterministic

    stream = await oai_live.chat.completions.create(
        model="gpt-4o-mini",
        messages=msgs,
        n=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    got = ["", "", ""]
    finish: dict[int, str | None] = {}
    usage = None
    async for chunk in stream:
        for c in chunk.choices:
            got[c.index] += c.delta.content or ""
            if c.finish_reason:
                finish[c.index] = c.finish_reason
        usage = chunk.usage or usage
    assert got == texts
    assert finish == {0: "stop", 1: "stop", 2: "stop"}
    assert usage is not None and usage.completion_tokens == resp.usage.completion_tokens


async def test_bad_n(oai_live: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await oai_live.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], n=0
        )


# -- tool calls: OpenAI ------------------------------------------------------------------


async def test_openai_forced_and_required_tool_calls(oai_live: openai.AsyncOpenAI) -> None:
    msgs: Any = [{"role": "user", "content": "Hello"}]
    resp = await oai_live.chat.completions.create(
        model="gpt-4o",
        messages=msgs,
        tools=OAI_TOOLS,
        tool_choice={"type": "function", "function": {"name": "lookup_person"}},
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].type == "function"
    assert calls[0].id.startswith("call_")
    assert calls[0].function.name == "lookup_person"
    Person.model_validate_json(calls[0].function.arguments)
    assert resp.usage is not None and resp.usage.completion_tokens > 0

    resp = await oai_live.chat.completions.create(
        model="gpt-4o", messages=msgs, tools=OAI_TOOLS, tool_choice="required"
    )
    calls = resp.choices[0].message.tool_calls or []
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments)["unit"] == "celsius"


async def test_openai_auto_rule(oai_live: openai.AsyncOpenAI) -> None:
    async def ask(msgs: Any, **kw: Any) -> Any:
        resp = await oai_live.chat.completions.create(
            model="gpt-4o", messages=msgs, tools=OAI_TOOLS, **kw
        )
        return resp.choices[0]

    plain = await ask([{"role": "user", "content": "Tell me a story"}])
    assert plain.finish_reason == "stop" and not plain.message.tool_calls
    named = await ask([{"role": "user", "content": "Please lookup person Ada"}])
    assert named.message.tool_calls[0].function.name == "lookup_person"
    generic = await ask([{"role": "user", "content": "Use a tool for this"}], tool_choice="auto")
    assert generic.message.tool_calls[0].function.name == "get_weather"
    none = await ask([{"role": "user", "content": "get_weather in Paris"}], tool_choice="none")
    assert none.finish_reason == "stop" and not none.message.tool_calls
    # After the tool's result the model answers in text.
    call = named.message.tool_calls[0]
    done = await ask(
        [
            {"role": "user", "content": "Please lookup person Ada"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [call.model_dump()],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "Ada, 36"},
        ]
    )
    assert done.finish_reason == "stop" and done.message.content


async def test_openai_tool_call_stream(oai_live: openai.AsyncOpenAI) -> None:
    msgs: Any = [{"role": "user", "content": "lookup person"}]
    resp = await oai_live.chat.completions.create(model="gpt-4o", messages=msgs, tools=OAI_TOOLS)
    expected = (resp.choices[0].message.tool_calls or [])[0]
    stream = await oai_live.chat.completions.create(
        model="gpt-4o",
        messages=msgs,
        tools=OAI_TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    name, args, ids, pieces, finish, usage = "", "", [], 0, None, None
    async for chunk in stream:
        for c in chunk.choices:
            for tc in c.delta.tool_calls or []:
                assert tc.index == 0
                if tc.id:
                    ids.append(tc.id)
                if tc.function and tc.function.name:
                    name += tc.function.name
                if tc.function and tc.function.arguments:
                    args += tc.function.arguments
                    pieces += 1
            finish = c.finish_reason or finish
        usage = chunk.usage or usage
    assert ids == [expected.id] and name == "lookup_person"
    assert args == expected.function.arguments and pieces > 1
    assert finish == "tool_calls"
    assert usage is not None and resp.usage is not None
    assert usage.completion_tokens == resp.usage.completion_tokens


async def test_openai_unknown_forced_tool_is_400(oai_live: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await oai_live.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "x"}],
            tools=OAI_TOOLS,
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )


# -- tool calls: Anthropic ---------------------------------------------------------------


async def test_anthropic_tool_use(ant_live: anthropic.AsyncAnthropic) -> None:
    msgs: Any = [{"role": "user", "content": "Hello"}]
    msg = await ant_live.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=msgs,
        tools=ANT_TOOLS,
        tool_choice={"type": "tool", "name": "lookup_person"},
    )
    assert msg.stop_reason == "tool_use"
    block = msg.content[-1]
    assert block.type == "tool_use" and block.name == "lookup_person"
    assert block.id.startswith("toolu_")
    Person.model_validate(block.input)
    msg = await ant_live.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=msgs,
        tools=ANT_TOOLS,
        tool_choice={"type": "any"},
    )
    assert msg.content[-1].type == "tool_use" and msg.content[-1].name == "get_weather"
    plain = await ant_live.messages.create(
        model="claude-haiku-4-5", max_tokens=200, messages=msgs, tools=ANT_TOOLS
    )
    assert plain.stop_reason == "end_turn" and plain.content[-1].type == "text"
    auto = await ant_live.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=[{"role": "user", "content": "What does get weather say?"}],
        tools=ANT_TOOLS,
    )
    use = auto.content[-1]
    assert use.type == "tool_use" and use.name == "get_weather"
    after = await ant_live.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        messages=[
            {"role": "user", "content": "What does get weather say?"},
            {"role": "assistant", "content": [use.model_dump()]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}],
            },
        ],
        tools=ANT_TOOLS,
    )
    assert after.stop_reason == "end_turn" and after.content[-1].type == "text"


async def test_anthropic_tool_use_stream(ant_live: anthropic.AsyncAnthropic) -> None:
    kw: Any = {
        "model": "claude-haiku-4-5",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "lookup_person please"}],
        "tools": ANT_TOOLS,
    }
    whole = await ant_live.messages.create(**kw)
    partial = 0
    async with ant_live.messages.stream(**kw) as stream:
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                partial += 1
        final = await stream.get_final_message()
    assert partial > 1
    assert final.stop_reason == "tool_use"
    block = final.content[-1]
    assert block.type == "tool_use"
    assert block.input == whole.content[-1].input  # type: ignore[union-attr]
    Person.model_validate(block.input)
    assert final.usage.output_tokens == whole.usage.output_tokens


# -- structured output -------------------------------------------------------------------


async def test_openai_response_format(oai_live: openai.AsyncOpenAI) -> None:
    msgs: Any = [{"role": "user", "content": "Describe someone"}]
    resp = await oai_live.chat.completions.create(
        model="gpt-4o", messages=msgs, response_format={"type": "json_object"}
    )
    text = resp.choices[0].message.content or ""
    assert isinstance(json.loads(text)["answer"], str)
    assert resp.usage is not None and resp.usage.completion_tokens == count_tokens(text)
    parsed = await oai_live.chat.completions.parse(
        model="gpt-4o", messages=msgs, response_format=Person
    )
    person = parsed.choices[0].message.parsed
    assert isinstance(person, Person) and len(person.addresses) >= 2
    stream = await oai_live.chat.completions.create(
        model="gpt-4o",
        messages=msgs,
        stream=True,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "p", "schema": PERSON_SCHEMA},
        },
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    Person.model_validate_json(text)


async def test_anthropic_output_format(ant_live: anthropic.AsyncAnthropic) -> None:
    msg = await ant_live.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=500,
        messages=[{"role": "user", "content": "Describe someone"}],
        output_config={"format": {"type": "json_schema", "schema": PERSON_SCHEMA}},
    )
    block = msg.content[-1]
    assert block.type == "text"
    Person.model_validate_json(block.text)
    assert msg.usage.output_tokens == count_tokens(block.text)
    raw = await ant_live.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=500,
        messages=[{"role": "user", "content": "Describe someone"}],
        stream=True,
        extra_body={"output_format": {"type": "json_schema", "schema": WEATHER}},
    )
    text = ""
    async for event in raw:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            text += event.delta.text
    assert json.loads(text)["unit"] == "celsius"
