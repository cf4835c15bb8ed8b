"""/v1/embeddings and /v1/responses through the official openai SDK on loopback."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pydantic
import pytest

from thrifty.sim import SimServer, count_tokens


@pytest.fixture
async def oai_live(server: SimServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-x", max_retries=0)
    yield client
    await client.close()


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


# -- embeddings --------------------------------------------------------------------------


async def test_embeddings(oai_live: openai.AsyncOpenAI) -> None:
    one = await oai_live.embeddings.create(model="text-embedding-3-small", input="hello world")
    assert one.object == "list" and one.model == "text-embedding-3-small"
    vec = one.data[0].embedding  # the SDK asked for base64 and decoded it
    assert len(vec) == 1536 and abs(norm(vec) - 1) < 1e-5
    assert one.usage.prompt_tokens == count_tokens("hello world") == one.usage.total_tokens

    many = await oai_live.embeddings.create(
        model="text-embedding-3-small",
        input=["hello world", "other text", "hello world"],
        encoding_format="float",
    )
    vecs = [d.embedding for d in many.data]
    assert [d.index for d in many.data] == [0, 1, 2]
    assert vecs[0] == vecs[2] != vecs[1]
    assert max(abs(a - b) for a, b in zip(vecs[0], vec, strict=True)) < 1e-6  # float32 trip
    assert many.usage.prompt_tokens == 2 * count_tokens("hello world") + count_tokens("other text")

    small = await oai_live.embeddings.create(
        model="text-embedding-3-small", input="hello world", dimensions=8, encoding_format="float"
    )
    short = small.data[0].embedding
    assert len(short) == 8 and abs(norm(short) - 1) < 1e-9
    # A shortened embedding is the prefix of the full one, renormalised.
    scale = norm(vecs[0][:8])
    assert all(abs(a - b / scale) < 1e-6 for a, b in zip(short, vecs[0][:8], strict=True))

    large = await oai_live.embeddings.create(model="text-embedding-3-large", input=[[1, 2, 3]])
    assert len(large.data[0].embedding) == 3072 and large.usage.prompt_tokens == 3
    other = await oai_live.embeddings.create(model="text-embedding-3-large", input="hello world")
    assert other.data[0].embedding[:5] != vec[:5]  # seeded by the model too


@pytest.mark.parametrize(
    "body",
    [
        {"model": "text-embedding-3-small", "input": ""},
        {"model": "text-embedding-3-small", "input": []},
        {"model": "text-embedding-3-small"},
        {"model": "text-embedding-3-small", "input": "x", "dimensions": 0},
        {"model": "text-embedding-3-small", "input": "x", "dimensions": 5000},
    ],
)
async def test_embeddings_bad_requests(server: SimServer, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=server.openai_base_url) as http:
        resp = await http.post("/embeddings", json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


async def test_embeddings_fault(oai_live: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        await oai_live.embeddings.create(
            model="text-embedding-3-small", input="x", extra_headers={"x-sim-fault": "429"}
        )


# -- responses ---------------------------------------------------------------------------


async def test_responses_text(oai_live: openai.AsyncOpenAI) -> None:
    resp = await oai_live.responses.create(model="gpt-4.1-mini", input="Hello there")
    assert resp.object == "response" and resp.status == "completed"
    assert resp.id.startswith("resp_")
    text = resp.output_text
    assert text.startswith("Simulated reply ")
    assert resp.output[0].type == "message"
    usage = resp.usage
    assert usage is not None
    assert usage.output_tokens == count_tokens(text)
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    same = await oai_live.responses.create(model="gpt-4.1-mini", input="Hello there")
    assert same.output_text == text  # deterministic

    capped = await oai_live.responses.create(
        model="gpt-4.1-mini", input="Hello there", max_output_tokens=16
    )
    assert capped.status == "incomplete"
    assert capped.incomplete_details is not None
    assert capped.incomplete_details.reason == "max_output_tokens"
    assert capped.usage is not None and capped.usage.output_tokens == 16


async def test_responses_message_list_and_cache(oai_live: openai.AsyncOpenAI) -> None:
    long = " ".join(f"w{i}" for i in range(1500))
    items: Any = [
        {"role": "user", "content": long},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "input_text", "text": "and now?"}]},
    ]
    first = await oai_live.responses.create(model="gpt-4.1", instructions="Be brief.", input=items)
    second = await oai_live.responses.create(model="gpt-4.1", instructions="Be brief.", input=items)
    assert first.usage is not None and second.usage is not None
    assert first.usage.input_tokens > 1500
    assert first.usage.input_tokens_details.cached_tokens == 0
    assert second.usage.input_tokens_details.cached_tokens >= 1024


async def test_responses_stream_event_sequence(oai_live: openai.AsyncOpenAI) -> None:
    whole = await oai_live.responses.create(model="gpt-4o", input="stream me")
    stream = await oai_live.responses.create(model="gpt-4o", input="stream me", stream=True)
    kinds: list[str] = []
    seqs: list[int] = []
    text = ""
    final = None
    async for event in stream:
        kinds.append(event.type)
        seqs.append(event.sequence_number)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            final = event.response
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(kinds[4:-4]) == {"response.output_text.delta"} and len(kinds) > 10
    assert seqs == list(range(len(seqs)))
    assert text == whole.output_text
    assert final is not None and final.output_text == text
    assert final.usage is not None and whole.usage is not None
    assert final.usage.output_tokens == whole.usage.output_tokens

    async with oai_live.responses.stream(model="gpt-4o", input="stream me") as helper:
        async for _ in helper:
            pass
        got = await helper.get_final_response()
    assert got.output_text == text


TOOLS: Any = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    }
]


async def test_responses_function_call(oai_live: openai.AsyncOpenAI) -> None:
    resp = await oai_live.responses.create(model="gpt-4o", input="get weather", tools=TOOLS)
    call = resp.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "sim", "days": 0}
    stream = await oai_live.responses.create(
        model="gpt-4o", input="get weather", tools=TOOLS, stream=True
    )
    args = ""
    kinds = []
    async for event in stream:
        kinds.append(event.type)
        if event.type == "response.function_call_arguments.delta":
            args += event.delta
    assert args == call.arguments
    assert kinds[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    done = await oai_live.responses.create(
        model="gpt-4o",
        tools=TOOLS,
        input=[
            {"role": "user", "content": "get weather"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert done.output[0].type == "message" and done.output_text
    forced = await oai_live.responses.create(
        model="gpt-4o", input="hi", tools=TOOLS, tool_choice="required"
    )
    assert forced.output[0].type == "function_call"


class Answer(pydantic.BaseModel):
    title: str
    points: list[int]


async def test_responses_structured(oai_live: openai.AsyncOpenAI) -> None:
    parsed = await oai_live.responses.parse(model="gpt-4o", input="give", text_format=Answer)
    assert isinstance(parsed.output_parsed, Answer)


async def test_responses_bad_request(oai_live: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await oai_live.responses.create(model="gpt-4o", input=[])
    with pytest.raises(openai.BadRequestError):
        await oai_live.responses.create(model="gpt-4o", input="x", max_output_tokens=3)
