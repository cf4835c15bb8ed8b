"""OpenAI embeddings (``POST /v1/embeddings``) through the gateway's pipeline and ledger,
with the official openai SDK as the client: priced on input tokens, ``encoding_format``
float and base64 passed through, failures booked."""

from __future__ import annotations

import asyncio
import base64
import struct
from decimal import Decimal

import httpx
import openai
import pytest

from tests.gateway.api_checks import assert_refused_for_anthropic, assert_rejected, sync_client
from tests.gateway.conftest import Gateway

M = Decimal(1_000_000)
# List prices, USD per million input tokens (embeddings bill no output).
TEXT_EMBEDDING_3_SMALL = Decimal("0.02")
TEXT_EMBEDDING_3_LARGE = Decimal("0.13")


async def test_a_list_of_inputs_is_booked_at_the_hand_priced_cost(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    raw = await oai.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["the first text", "and a second one"]
    )
    result = raw.parse()
    assert [e.index for e in result.data] == [0, 1]
    assert all(len(e.embedding) == 1536 for e in result.data)
    tokens = result.usage.prompt_tokens
    assert tokens > 0 and result.usage.total_tokens == tokens
    expected = tokens * TEXT_EMBEDDING_3_SMALL / M
    assert Decimal(raw.headers["x-thrifty-cost-usd"]) == expected
    assert raw.headers["x-thrifty-model"] == "text-embedding-3-small"
    [row] = gateway.rows()
    assert (row.endpoint, row.status, row.stream) == ("/v1/embeddings", 200, False)
    assert row.usage.input_tokens == tokens and row.usage.output_tokens == 0
    assert row.cost_usd == expected and row.baseline_usd == expected


async def test_the_large_model_is_priced_at_its_own_rate(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    result = await oai.embeddings.create(model="text-embedding-3-large", input="one text")
    assert len(result.data[0].embedding) == 3072
    [row] = gateway.rows()
    assert row.cost_usd == result.usage.prompt_tokens * TEXT_EMBEDDING_3_LARGE / M


async def test_float_and_base64_encodings_are_passed_through(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    # The SDK asks for base64 unless told otherwise, and decodes it itself.
    default = await oai.embeddings.create(model="text-embedding-3-small", input="same text")
    floats = await oai.embeddings.create(
        model="text-embedding-3-small", input="same text", encoding_format="float"
    )
    decoded, plain = default.data[0].embedding, floats.data[0].embedding
    assert len(decoded) == len(plain) == 1536
    assert max(abs(a - b) for a, b in zip(decoded, plain, strict=True)) < 1e-6
    body = {"model": "text-embedding-3-small", "input": "same text", "encoding_format": "base64"}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/v1/embeddings", json=body)
    encoded = response.json()["data"][0]["embedding"]
    assert isinstance(encoded, str)  # the app got the upstream's base64 as is
    values = struct.unpack(f"<{len(plain)}f", base64.b64decode(encoded))
    assert max(abs(a - b) for a, b in zip(values, plain, strict=True)) < 1e-6
    assert len(gateway.rows()) == 3


async def test_dimensions_and_token_inputs_are_passed_through(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    result = await oai.embeddings.create(
        model="text-embedding-3-small", input=[[1, 2, 3], [4, 5]], dimensions=256
    )
    assert [len(e.embedding) for e in result.data] == [256, 256]
    assert result.usage.prompt_tokens == 5  # one token per id
    [row] = gateway.rows()
    assert row.usage.input_tokens == 5
    assert row.cost_usd == 5 * TEXT_EMBEDDING_3_SMALL / M


@pytest.mark.parametrize(
    ("fault", "error"),
    [("429", openai.RateLimitError), ("500", openai.InternalServerError)],
)
async def test_upstream_faults_keep_their_status_and_are_booked(
    gateway: Gateway, oai: openai.AsyncOpenAI, fault: str, error: type[openai.APIStatusError]
) -> None:
    with pytest.raises(error) as caught:
        await oai.embeddings.create(
            model="text-embedding-3-small", input=["fine", f"boom [[sim:fault={fault}]]"]
        )
    assert caught.value.status_code == int(fault)
    [row] = gateway.rows()
    assert (row.endpoint, row.status, row.failure) == ("/v1/embeddings", int(fault), "upstream")
    assert row.error is not None and f"openai returned HTTP {fault}" in row.error
    assert row.cost_usd == 0


async def test_a_body_cut_midway_is_booked_as_unknown_cost(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        await oai.embeddings.create(model="text-embedding-3-small", input="x [[sim:fault=cut]]")
    assert caught.value.status_code == 502
    [row] = gateway.rows()
    # The upstream did the work and may bill it: unknown, never booked as $0.
    assert row.status == 502 and row.cost_usd is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "text-embedding-3-small"}, "missing required field 'input'"),
        ({"model": "text-embedding-3-small", "input": []}, "'input' must not be an empty array"),
        ({"model": "text-embedding-3-small", "input": ""}, "'input' must not be an empty string"),
        ({"model": "text-embedding-3-small", "input": ["a", ""]}, "'input[1]' must not be empty"),
        ({"model": "text-embedding-3-small", "input": {"a": 1}}, "'input' must be a string"),
        ({"model": "text-embedding-3-small", "input": ["a", 3.5]}, "'input[1]' must be a string"),
        ({"model": "text-embedding-3-small", "input": ["x"] * 2049}, "the limit is 2048"),
        (
            {"model": "text-embedding-3-small", "input": "a", "encoding_format": "int8"},
            "'encoding_format' must be 'float' or 'base64'",
        ),
        ({"model": "text-embedding-3-small", "input": "a", "dimensions": 0}, "'dimensions'"),
        ({"model": "text-embedding-3-small", "input": "a", "stream": True}, "do not stream"),
        ({"model": 7, "input": "a"}, "'model' must be a non-empty string"),
    ],
)
async def test_invalid_bodies_are_clear_400s_and_booked(
    gateway: Gateway, body: dict[str, object], message: str
) -> None:
    await assert_rejected(gateway, "/v1/embeddings", body, message)


async def test_an_anthropic_model_is_a_clear_400(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    await assert_refused_for_anthropic(
        gateway, oai.embeddings.create(model="claude-sonnet-4-6", input="hi")
    )


async def test_task_routing_leaves_an_embeddings_request_alone(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    # The fixture routes task "impact" to claude-sonnet-4-6: an embeddings request must not
    # follow a chat rule (it would fail there).
    raw = await oai.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input="hi", extra_headers={"X-Thrifty-Task": "impact"}
    )
    assert raw.headers["x-thrifty-model"] == "text-embedding-3-small"
    [row] = gateway.rows()
    assert (row.task, row.model, row.status) == ("impact", "text-embedding-3-small", 200)


async def test_the_sync_client_works_too(gateway: Gateway) -> None:
    def call() -> int:
        with sync_client(gateway) as client:
            return client.embeddings.create(
                model="text-embedding-3-small", input=["sync", "client"]
            ).usage.prompt_tokens

    tokens = await asyncio.to_thread(call)
    [row] = gateway.rows()
    assert row.cost_usd == tokens * TEXT_EMBEDDING_3_SMALL / M
