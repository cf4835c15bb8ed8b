"""The gateway in front of a real local model: llama.cpp's server with SmolLM2-135M-Instruct
as the task's local tier, the simulator as the hosted fallback (gpt-4o-mini).

A 135M model's answers cannot be predicted, so the JSON tests hold whatever it says to one
rule: the app always gets valid JSON, either the local answer (served at $0) or the
fallback's, with the local try booked.  Rates: gpt-4o-mini 0.15 in / 0.60 out per million
tokens (genai-prices' bundled data).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import openai
import orjson
import pytest

from tests.gateway.conftest import Gateway
from tests.gateway.fewer_calls_kit import rows
from tests.local_model.llama_server import MODEL_ALIAS, LlamaServer
from tests.local_model.tiered import HOSTED_ENVIRON, tiered_settings
from thrifty.gateway import create_app
from thrifty.ledger import LedgerRow
from thrifty.runtime import Thrifty
from thrifty.serving import start_server
from thrifty.sim import SimConfig, SimServer

M = Decimal(1_000_000)
TASK = {"x-thrifty-task": "extract"}
CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}
CITY_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "city", "schema": CITY, "strict": True},
}
ASK_CITY = "Name one large city in Japan as JSON with the keys city and country."


@pytest.fixture
async def gateway(smollm2: LlamaServer, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with SimServer(SimConfig()) as hosted:
        settings = tiered_settings(
            tmp_path / "ledger.db",
            local_url=smollm2.openai_base_url,
            hosted_url=hosted.openai_base_url,
            tasks={"extract": {"local": {"model": MODEL_ALIAS, "timeout_s": 90}}},
        )
        thrifty = Thrifty(settings, environ=HOSTED_ENVIRON)
        server = await start_server(create_app(thrifty))
        try:
            yield Gateway(url=server.url, thrifty=thrifty, server=server)
        finally:
            await server.stop()


@pytest.fixture
async def oai(gateway: Gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key="app-key", max_retries=0, timeout=100
    ) as sdk:
        yield sdk


async def ask(
    oai: openai.AsyncOpenAI, *, content: str = ASK_CITY, max_tokens: int = 64, **request: Any
) -> Any:
    """A chat request of task ``extract`` for gpt-4o-mini, temperature 0: the raw response."""
    return await oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": content}],
        max_tokens=max_tokens,
        temperature=0,
        extra_headers=TASK,
        **request,
    )


def ask_streamed(
    oai: openai.AsyncOpenAI, *, content: str = ASK_CITY, max_tokens: int = 64, **request: Any
) -> Any:
    """The same, streamed (``async with``)."""
    return oai.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": content}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        extra_headers=TASK,
        **request,
    )


def mini_baseline(row: LedgerRow) -> Decimal:
    usage = row.baseline_usage
    assert usage is not None
    return (usage.input_tokens * Decimal("0.15") + usage.output_tokens * Decimal("0.6")) / M


def check_booking(row: LedgerRow, outcome: str) -> None:
    """Served: one $0 call on the local model.  Fallback: the local try ($0, lever local)
    then the hosted answer, which costs what the app's model would have."""
    if outcome == "served":
        assert [c.call.model for c in row.calls] == [MODEL_ALIAS]
        assert row.cost_usd == 0 and row.price_source == "local"
        assert row.savings == {"local": mini_baseline(row)}
        return
    local_try, answer = row.calls
    assert (local_try.call.lever, local_try.cost.usd) == ("local", 0)
    assert answer.call.model == "gpt-4o-mini" and answer.call.lever is None
    assert row.cost_usd == answer.cost.usd == mini_baseline(row)


async def test_a_plain_chat_is_answered_by_the_local_model(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    raw = await ask(oai, content="What is the capital of France?", max_tokens=24)
    assert raw.headers["x-thrifty-local"] == "served"
    answer = raw.parse()
    assert answer.choices[0].message.content
    (row,) = await rows(gateway, 1)
    check_booking(row, "served")
    assert row.usage.input_tokens > 0 and 0 < row.usage.output_tokens <= 24  # llama.cpp's
    assert mini_baseline(row) > 0


async def test_a_streamed_chat_comes_straight_from_the_local_model(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    async with ask_streamed(oai, content="Say hello to the team.", max_tokens=24) as response:
        assert response.headers["x-thrifty-local"] == "served"
        pieces = [
            chunk.choices[0].delta.content or ""
            async for chunk in await response.parse()
            if chunk.choices
        ]
    assert "".join(pieces).strip()
    assert len([p for p in pieces if p]) > 1  # streamed in pieces, not replayed whole
    (row,) = await rows(gateway, 1)
    assert row.stream and row.failure is None
    assert [c.call.model for c in row.calls] == [MODEL_ALIAS] and row.cost_usd == 0
    # llama-cpp-python streams no usage: the $0 call's counts are estimated, the row priced
    assert row.cost_estimated and row.usage.output_tokens > 0


async def test_json_mode_always_gives_the_app_json(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    raw = await ask(oai, response_format={"type": "json_object"}, max_tokens=64)
    outcome = raw.headers["x-thrifty-local"]
    assert outcome in ("served", "fallback-invalid-json")
    assert isinstance(orjson.loads(raw.parse().choices[0].message.content or ""), dict)
    (row,) = await rows(gateway, 1)
    check_booking(row, outcome)


async def test_a_json_schema_request_gets_json_valid_against_it(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    """llama-cpp-python's server (0.3.16) refuses OpenAI's ``json_schema`` format with an
    HTTP 500 (it takes ``json_object`` with a ``schema`` key only): the tier falls back
    (``fallback-error``).  A server that takes it answers, and its answer is checked."""
    raw = await ask(oai, response_format=CITY_FORMAT, max_tokens=64)
    outcome = raw.headers["x-thrifty-local"]
    assert outcome in (
        "served",
        "fallback-invalid-json",
        "fallback-schema-mismatch",
        "fallback-error",
    )
    jsonschema.validate(orjson.loads(raw.parse().choices[0].message.content or ""), CITY)
    (row,) = await rows(gateway, 1)
    check_booking(row, outcome)
    if outcome == "fallback-error":
        assert row.calls[0].call.usage.total_tokens == 0  # no answer, no tokens


async def test_a_local_answer_cut_short_falls_back(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    """Four tokens cannot hold the object SmolLM2 writes (greedy: ``{"city": {...}}``):
    the local answer is cut, not JSON, and the app gets the fallback's answer (which the
    app's own ``max_tokens`` cuts too: thrifty passes it on as the hosted model gave it)."""
    raw = await ask(oai, response_format={"type": "json_object"}, max_tokens=4)
    assert raw.headers["x-thrifty-local"] == "fallback-invalid-json"
    assert raw.headers["x-thrifty-model"] == "gpt-4o-mini"
    assert (raw.parse().choices[0].message.content or "").startswith('{"answer')  # the simulator's
    (row,) = await rows(gateway, 1)
    check_booking(row, "fallback")
    local_try = row.calls[0].call
    assert local_try.model == MODEL_ALIAS and 0 < local_try.usage.output_tokens <= 4


async def test_a_streamed_json_request_gets_a_json_stream(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    """Checked whole, then replayed as a stream (or the fallback's stream)."""
    async with ask_streamed(
        oai,
        response_format={"type": "json_object"},
        max_tokens=64,
        stream_options={"include_usage": True},
    ) as response:
        outcome = response.headers["x-thrifty-local"]
        chunks = [chunk async for chunk in await response.parse()]
    assert outcome in ("served", "fallback-invalid-json")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert isinstance(orjson.loads(text), dict)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    (row,) = await rows(gateway, 1)
    check_booking(row, outcome)
