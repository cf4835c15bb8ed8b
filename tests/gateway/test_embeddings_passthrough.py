"""Large embeddings answers pass through the gateway as the upstream wrote them (no parse,
no re-serialisation), booked from the usage at their end; the exact cache still stores and
merges vectors; the library still gets a parsed body."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.gateway.conftest import Gateway, make_settings, running_gateway
from thrifty.config import Settings
from thrifty.gateway import create_app
from thrifty.providers.skim import EDGE, skim
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

MODEL = "text-embedding-3-small"
SMALL_RATE = Decimal("0.02")  # USD per million input tokens


def texts(tag: str, count: int = 8) -> list[str]:
    return [f"{tag} passage number {n}" for n in range(count)]


async def post(gw: Gateway, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.url) as http:
        return await http.post("/v1/embeddings", json=body)


async def direct(gw: Gateway, body: dict[str, Any]) -> bytes:
    """The simulator's own answer to ``body`` (deterministic vectors)."""
    assert gw.thrifty.simulator_url is not None
    async with httpx.AsyncClient() as http:
        answer = await http.post(gw.thrifty.simulator_url + "/v1/embeddings", json=body)
    return answer.content


@pytest.mark.parametrize("cache", [False, True])
async def test_a_large_float_answer_reaches_the_app_byte_for_byte(
    tmp_path: Path, cache: bool
) -> None:
    body = {"model": MODEL, "input": texts(f"bytes-{cache}"), "encoding_format": "float"}
    settings = make_settings(tmp_path, levers={"cache": {"enabled": cache}})
    async with running_gateway(settings) as gw:
        answer = await post(gw, body)
        upstream = await direct(gw, body)
        assert answer.status_code == 200
        assert len(upstream) > 2 * EDGE  # large enough to be passed on unparsed
        assert answer.content == upstream
        usage = orjson.loads(upstream)["usage"]
        [row] = gw.rows()
        assert row.usage.input_tokens == usage["prompt_tokens"] > 0
        assert row.cost_usd == usage["prompt_tokens"] * SMALL_RATE / 1_000_000
        assert (row.model, row.status) == (MODEL, 200)
        assert Decimal(answer.headers["x-thrifty-cost-usd"]) == row.cost_usd


async def test_the_cache_stores_passed_on_vectors_and_merges_a_partial_hit(
    tmp_path: Path,
) -> None:
    first = texts("merge", 6)
    async with running_gateway(make_settings(tmp_path)) as gw:
        miss = await post(gw, {"model": MODEL, "input": first})
        assert miss.headers["x-thrifty-cache"] == "miss"
        again = await post(gw, {"model": MODEL, "input": first})
        assert again.headers["x-thrifty-cache"] == "hit"
        assert orjson.loads(again.content)["data"] == orjson.loads(miss.content)["data"]
        extra = "a passage the cache has not seen"
        both = [*first, extra]
        partial = await post(gw, {"model": MODEL, "input": both})
        assert partial.headers["x-thrifty-cache"] == "partial"
        merged = orjson.loads(partial.content)
        expected = orjson.loads(await direct(gw, {"model": MODEL, "input": both}))
        assert merged["data"] == expected["data"]  # the merged answer, not the upstream's bytes
        assert merged["usage"] == expected["usage"]


async def test_the_library_gets_a_parsed_body(tmp_path: Path) -> None:
    thrifty = Thrifty(make_settings(tmp_path), environ={})
    try:
        response = await thrifty.embeddings({"model": MODEL, "input": texts("library")})
        assert response.raw_body is not None and len(response.raw_body) > 2 * EDGE
        assert response.body is not None and len(response.body["data"]) == 8
        assert response.body == orjson.loads(response.raw_body)
    finally:
        await thrifty.aclose()


def upstream_app(answer: bytes) -> Starlette:
    async def embeddings(request: Request) -> Response:
        return Response(answer, media_type="application/json")

    return Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])


async def through_gateway(tmp_path: Path, answer: bytes) -> tuple[httpx.Response, Any]:
    """``answer`` from an OpenAI-compatible upstream, asked through a gateway."""
    upstream = await start_server(upstream_app(answer))
    settings = Settings(
        ledger={"path": str(tmp_path / "ledger.db")},
        openai_base_url=upstream.url + "/v1",
        levers={"cache": {"enabled": False}},
    )
    thrifty = Thrifty(settings, environ={"OPENAI_API_KEY": "sk-test-000000"})
    server = await start_server(create_app(thrifty))
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            got = await http.post("/v1/embeddings", json={"model": MODEL, "input": "x"})
        [row] = thrifty.ledger.rows()
        return got, row
    finally:
        await server.stop()
        await upstream.stop()


def vectors(count: int) -> list[dict[str, Any]]:
    return [{"object": "embedding", "index": i, "embedding": [0.125] * 600} for i in range(count)]


async def test_model_first_layouts_are_read_from_both_ends(tmp_path: Path) -> None:
    answer = orjson.dumps(
        {
            "id": "embd-1",
            "object": "list",
            "model": "served-name",
            "data": vectors(4),
            "usage": {"prompt_tokens": 7, "total_tokens": 7},
        }
    )
    got, row = await through_gateway(tmp_path, answer)
    assert got.status_code == 200 and got.content == answer
    assert (row.model, row.usage.input_tokens) == ("served-name", 7)


async def test_an_answer_without_usage_is_parsed_whole_and_booked_unpriced(
    tmp_path: Path,
) -> None:
    answer = orjson.dumps({"object": "list", "data": vectors(4), "model": MODEL})
    got, row = await through_gateway(tmp_path, answer)
    assert got.status_code == 200 and orjson.loads(got.content) == orjson.loads(answer)
    assert row.cost_usd is None  # no usage: unknown, never $0


def test_skim_reads_the_ends_or_declines() -> None:
    big = vectors(4)
    tail_usage = orjson.dumps({"data": big, "model": "m", "usage": {"prompt_tokens": 3}})
    found = skim(tail_usage)
    assert found is not None and found.usage == {"prompt_tokens": 3} and found.model == "m"
    escaped = orjson.dumps({"data": big, "model": 'a"b', "usage": {"prompt_tokens": 1}})
    assert (found := skim(escaped)) is not None and found.model == 'a"b'
    no_model = orjson.dumps({"data": big, "usage": {"prompt_tokens": 1}})
    assert (found := skim(no_model)) is not None and found.model is None
    declined = [
        orjson.dumps({"data": vectors(1), "usage": {"prompt_tokens": 1}}),  # small
        orjson.dumps({"data": big, "model": "m"}),  # no usage
        orjson.dumps({"data": big, "usage": {"prompt_tokens": 1, "details": {"x": 1}}}),
        orjson.dumps([big, {"usage": {"prompt_tokens": 1}}]),  # not an object
        orjson.dumps({"data": big, "usage": {"prompt_tokens": 1}})[:-3],  # cut short
        b'{"data": ' + orjson.dumps(big) + b', "usage": {"prompt_tokens": 1,}}',  # bad JSON
    ]
    for raw in declined:
        assert skim(raw) is None, raw[-60:]


async def test_coalesced_and_idempotent_requests_get_the_same_answer(tmp_path: Path) -> None:
    body = {"model": MODEL, "input": texts("shared")}
    settings = make_settings(
        tmp_path, levers={"cache": {"enabled": False}}, simulator={"port": 0, "latency_ms": 200}
    )
    async with running_gateway(settings) as gw:
        upstream = orjson.loads(await direct(gw, body))
        async with httpx.AsyncClient(base_url=gw.url) as http:
            # Two identical requests in flight share one upstream call.
            pair = await asyncio.gather(*(http.post("/v1/embeddings", json=body) for _ in range(2)))
            assert [orjson.loads(r.content) for r in pair] == [upstream, upstream]
            followers = [r.headers.get("x-thrifty-coalesce") for r in pair]
            assert sorted(map(str, followers)) == ["None", "follower"]
            # An idempotency key replays the kept answer (parsed to be kept).
            key = {"idempotency-key": "embed-once-1"}
            first = await http.post("/v1/embeddings", json=body, headers=key)
            again = await http.post("/v1/embeddings", json=body, headers=key)
        assert again.headers["x-thrifty-idempotency"] == "replay"
        assert orjson.loads(first.content) == orjson.loads(again.content) == upstream
