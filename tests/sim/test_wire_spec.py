"""The simulator's Responses API and embeddings bodies and events validate strictly
against the official openai SDK's types (generated from OpenAI's OpenAPI spec)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

FUNCTION_TOOL = {
    "type": "function",
    "name": "lookup",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
}
VARIANTS: list[dict[str, Any]] = [
    {},
    {"tools": [FUNCTION_TOOL], "tool_choice": "required"},
    {"max_output_tokens": 16},  # ends incomplete
    {"instructions": "Be brief.", "service_tier": "flex"},
]


@pytest.mark.parametrize("extra", VARIANTS)
async def test_a_response_validates(http: httpx.AsyncClient, extra: dict[str, Any]) -> None:
    body = {"model": "gpt-4o", "input": "Tell me more", **extra}
    response = await http.post("/v1/responses", json=body)
    parsed = Response.model_validate(response.json(), strict=True)
    assert parsed.usage is not None
    assert parsed.usage.input_tokens_details.cache_write_tokens == 0


@pytest.mark.parametrize("extra", VARIANTS)
async def test_every_stream_event_validates(http: httpx.AsyncClient, extra: dict[str, Any]) -> None:
    body = {"model": "gpt-4o", "input": "Tell me more", "stream": True, **extra}
    response = await http.post("/v1/responses", json=body)
    adapter: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)
    blocks = [b for b in response.text.split("\n\n") if b]
    events = []
    for block in blocks:
        name, data = block.split("\n", 1)
        payload = json.loads(data.removeprefix("data: "))
        assert name == "event: " + payload["type"]  # the SSE name repeats the type
        events.append(adapter.validate_python(payload, strict=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type in ("response.completed", "response.incomplete")


async def test_embeddings_validate(http: httpx.AsyncClient) -> None:
    for fmt in ("float", "base64"):
        body = {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": fmt}
        response = await http.post("/v1/embeddings", json=body)
        if fmt == "float":
            CreateEmbeddingResponse.model_validate(response.json(), strict=True)
        else:  # the SDK types hold decoded floats; base64 arrives as a string
            assert all(isinstance(d["embedding"], str) for d in response.json()["data"])
