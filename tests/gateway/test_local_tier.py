"""The local tier through the gateway, with the simulator standing in for both servers: one
simulator is the local server (a provider with ``local = true``, serving ``smollm2``), the
other the hosted provider.  Checked with the official SDKs: the ``x-thrifty-local`` header,
the answers, and the ledger rows priced by hand.

Rates (USD per million tokens, genai-prices' bundled data): gpt-4o 2.50 in / 10 out;
gpt-4o-mini 0.15 / 0.60.  The simulator answers JSON mode with the minimal instance of the
request's schema; it ignores ``pattern``, so a schema with a pattern gets an answer that
does not match it (from either server: thrifty passes the hosted answer on unchecked, as
the app would have had it without thrifty).
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from tests.gateway.conftest import Gateway
from tests.gateway.fewer_calls_kit import rows
from tests.local_model.tiered import HOSTED_ENVIRON, LOCAL_MODEL, tiered_settings
from thrifty.gateway import create_app
from thrifty.ledger import LedgerRow
from thrifty.runtime import Thrifty
from thrifty.serving import start_server
from thrifty.sim import SimConfig, SimServer

M = Decimal(1_000_000)
TASK = {"x-thrifty-task": "extract"}
TIMEOUT_S = 1.0  # the local tier's deadline in these tests
CODE_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "code",
        "schema": {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "^[0-9]+$"}},
            "required": ["code"],
        },
    },
}


def usd(*terms: tuple[int, str]) -> Decimal:
    return sum((tokens * Decimal(rate) for tokens, rate in terms), Decimal(0)) / M


def priced(row: LedgerRow, model: str) -> tuple[Decimal, Decimal]:
    """(hosted cost of the answering call, baseline on the requested model), by hand."""
    rates = {"gpt-4o": ("2.5", "10"), "gpt-4o-mini": ("0.15", "0.6")}
    answer = row.calls[-1].call.usage
    requested = row.baseline_usage
    assert requested is not None
    cost_in, cost_out = rates[model]
    base_in, base_out = rates[str(row.requested_model)]
    return (
        usd((answer.input_tokens, cost_in), (answer.output_tokens, cost_out)),
        usd((requested.input_tokens, base_in), (requested.output_tokens, base_out)),
    )


@dataclass
class Tiered(Gateway):
    """The gateway, with the simulators standing in for the local and the hosted server."""

    local: SimServer | None = None
    hosted: SimServer | None = None

    def servers(self) -> tuple[SimServer, SimServer]:
        assert self.local is not None and self.hosted is not None
        return self.local, self.hosted


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def tiered(tmp_path: Path, local_url: str | None = None) -> AsyncIterator[Tiered]:
    """A gateway whose task ``extract`` tries ``smollm2`` on the local server first."""
    async with SimServer(SimConfig()) as hosted, SimServer(SimConfig()) as local:
        settings = tiered_settings(
            tmp_path / "ledger.db",
            local_url=local_url or local.openai_base_url,
            hosted_url=hosted.openai_base_url,
            tasks={
                "extract": {"local": {"model": LOCAL_MODEL, "timeout_s": TIMEOUT_S}},
                "mini": {"local": {"model": LOCAL_MODEL, "fallback": "gpt-4o-mini"}},
            },
        )
        thrifty = Thrifty(settings, environ=HOSTED_ENVIRON)
        server = await start_server(create_app(thrifty))
        try:
            yield Tiered(server.url, thrifty, server, local=local, hosted=hosted)
        finally:
            await server.stop()


def sdk(gw: Tiered) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key="app-key", max_retries=0, timeout=20)


async def calls_to(gw: Tiered) -> tuple[int, int]:
    """Chat calls the (local, hosted) simulators received."""
    counts: list[int] = []
    async with httpx.AsyncClient() as http:
        for server in gw.servers():
            counts.append(int((await http.get(server.base_url + "/_sim/stats")).json()["requests"]))
    local, hosted = counts
    return local, hosted


async def fault(server: SimServer, kind: str) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(server.base_url + "/_sim/faults", json={"fault": kind})
        answer.raise_for_status()


async def test_a_plain_chat_is_served_locally_at_no_cost(tmp_path: Path) -> None:
    async with tiered(tmp_path) as gw, sdk(gw) as oai:
        raw = await oai.chat.completions.with_raw_response.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hello"}],
            extra_headers=TASK,
        )
        answer = raw.parse()
        assert raw.headers["x-thrifty-local"] == "served"
        assert raw.headers["x-thrifty-cost-usd"].startswith("0")
        assert answer.choices[0].message.content
        assert await calls_to(gw) == (1, 0)
        (row,) = await rows(gw, 1)
        assert row.model == "smollm2" and row.provider == "llama"
        assert row.cost_usd == 0 and row.price_source == "local"
        usage = row.usage
        baseline = usd((usage.input_tokens, "2.5"), (usage.output_tokens, "10"))
        assert baseline > 0
        assert row.baseline_usd == baseline and row.savings == {"local": baseline}


async def test_valid_json_is_served_locally(tmp_path: Path) -> None:
    async with tiered(tmp_path) as gw, sdk(gw) as oai:
        raw = await oai.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "give me JSON"}],
            response_format={"type": "json_object"},
            extra_headers=TASK,
        )
        assert raw.headers["x-thrifty-local"] == "served"
        assert isinstance(orjson.loads(raw.parse().choices[0].message.content or ""), dict)
        (row,) = await rows(gw, 1)
        _, baseline = priced(row, "gpt-4o-mini")
        assert row.cost_usd == 0 and row.savings == {"local": baseline}


async def test_a_schema_mismatch_falls_back_and_books_both_calls(tmp_path: Path) -> None:
    async with tiered(tmp_path) as gw, sdk(gw) as oai:
        raw = await oai.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "the code please"}],
            response_format=CODE_SCHEMA,  # type: ignore[arg-type]
            extra_headers=TASK,
        )
        assert raw.headers["x-thrifty-local"] == "fallback-schema-mismatch"
        assert raw.headers["x-thrifty-model"] == "gpt-4o-mini"
        assert await calls_to(gw) == (1, 1)
        (row,) = await rows(gw, 1)
        local_try, answer = row.calls
        assert (local_try.call.model, local_try.call.lever, local_try.cost.usd) == (
            "smollm2",
            "local",
            0,
        )
        assert local_try.call.usage.output_tokens > 0  # its own tokens, booked at $0
        cost, baseline = priced(row, "gpt-4o-mini")
        assert answer.cost.usd == cost and row.cost_usd == cost and row.baseline_usd == baseline
        assert cost == baseline  # same model: the fallback saved nothing, cost nothing extra
        assert row.savings == {"local": Decimal(0)}
        assert row.usage == local_try.call.usage + answer.call.usage


async def test_cut_json_falls_back_to_the_configured_model(tmp_path: Path) -> None:
    """A local answer cut by ``max_tokens`` is not JSON; the task's fallback is gpt-4o-mini
    while the app asked for gpt-4o: the model change is the local tier's saving."""
    async with tiered(tmp_path) as gw, sdk(gw) as oai:
        raw = await oai.chat.completions.with_raw_response.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "JSON, briefly"}],
            response_format={"type": "json_object"},
            max_tokens=4,
            extra_headers={"x-thrifty-task": "mini"},
        )
        assert raw.headers["x-thrifty-local"] == "fallback-invalid-json"
        (row,) = await rows(gw, 1)
        assert [c.call.model for c in row.calls] == ["smollm2", "gpt-4o-mini"]
        cost, baseline = priced(row, "gpt-4o-mini")
        assert row.cost_usd == cost and row.baseline_usd == baseline
        assert row.savings == {"local": baseline - cost}
        assert baseline - cost > 0


async def test_a_local_server_that_is_down_falls_back(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"
    async with tiered(tmp_path, local_url=down) as gw, sdk(gw) as oai:
        raw = await oai.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            extra_headers=TASK,
        )
        assert raw.headers["x-thrifty-local"] == "fallback-down"
        assert raw.parse().choices[0].message.content
        (row,) = await rows(gw, 1)
        local_try, _ = row.calls
        assert (local_try.call.lever, local_try.cost.usd) == ("local", 0)
        assert local_try.call.usage.total_tokens == 0
        cost, baseline = priced(row, "gpt-4o-mini")
        assert row.cost_usd == cost == baseline and row.status == 200


@pytest.mark.parametrize(("kind", "reason"), [("timeout", "timeout"), ("500", "error")])
async def test_a_slow_or_failing_local_server_falls_back(
    tmp_path: Path, kind: str, reason: str
) -> None:
    async with tiered(tmp_path) as gw, sdk(gw) as oai:
        await fault(gw.servers()[0], kind)
        started = time.monotonic()
        raw = await oai.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            extra_headers=TASK,
        )
        assert raw.headers["x-thrifty-local"] == f"fallback-{reason}"
        assert time.monotonic() - started < TIMEOUT_S + 5
        (row,) = await rows(gw, 1)
        assert [c.call.lever for c in row.calls] == ["local", None]


async def streamed(oai: openai.AsyncOpenAI, **request: Any) -> tuple[str, dict[str, str]]:
    """The text of a streamed answer and the response headers."""
    async with oai.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        extra_headers=TASK,
        **request,
    ) as response:
        headers = dict(response.headers)
        text = ""
        async for chunk in await response.parse():
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
    return text, headers


async def test_a_plain_stream_is_served_locally(tmp_path: Path) -> None:
    async with tiered(tmp_path) as gw, sdk(gw) as oai:
        text, headers = await streamed(oai)
        assert headers["x-thrifty-local"] == "served" and text
        (row,) = await rows(gw, 1)
        assert row.stream and row.model == "smollm2" and row.cost_usd == 0
        assert row.savings["local"] == row.baseline_usd and row.baseline_usd


async def test_a_json_stream_is_checked_then_replayed(tmp_path: Path) -> None:
    async with tiered(tmp_path) as gw, sdk(gw) as oai:
        text, headers = await streamed(oai, response_format={"type": "json_object"})
        assert headers["x-thrifty-local"] == "served"
        assert isinstance(orjson.loads(text), dict)
        (row,) = await rows(gw, 1)
        assert row.cost_usd == 0 and row.usage.output_tokens > 0


async def test_an_invalid_json_stream_falls_back_to_the_hosted_stream(tmp_path: Path) -> None:
    async with tiered(tmp_path) as gw, sdk(gw) as oai:
        text, headers = await streamed(oai, response_format=CODE_SCHEMA)
        assert headers["x-thrifty-local"] == "fallback-schema-mismatch"
        assert orjson.loads(text) == {"code": "sim"}  # the hosted simulator's answer
        (row,) = await rows(gw, 1)
        cost, _ = priced(row, "gpt-4o-mini")
        assert [c.call.lever for c in row.calls] == ["local", None]
        assert row.cost_usd == cost > 0


async def test_an_anthropic_app_is_served_by_the_openai_dialect_local_server(
    tmp_path: Path,
) -> None:
    async with (
        tiered(tmp_path) as gw,
        anthropic.AsyncAnthropic(base_url=gw.url, api_key="app-key", max_retries=0) as ant,
    ):
        # Anthropic's wire format, translated to the local server's OpenAI dialect and back.
        raw = await ant.messages.with_raw_response.create(
            model="gpt-4o-mini",
            max_tokens=50,
            messages=[{"role": "user", "content": "hello"}],
            extra_headers=TASK,
        )
        assert raw.headers["x-thrifty-local"] == "served"
        message = await raw.parse()
        assert message.content[0].type == "text" and message.content[0].text
        (row,) = await rows(gw, 1)
        assert row.model == "smollm2" and row.cost_usd == 0
