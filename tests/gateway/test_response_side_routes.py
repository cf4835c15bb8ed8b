"""The Responses API's side routes through the gateway (retrieve, delete, cancel, input
items, input_tokens), with the official openai SDK as the client: forwarded to the OpenAI
provider, never booked, counted in the log, guarded like the other routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.gateway.conftest import Gateway, make_settings, running_gateway
from thrifty.config import Settings
from thrifty.gateway import create_app
from thrifty.gateway.keys import KeyStore, keys_path
from thrifty.runtime import Thrifty
from thrifty.serving import start_server


async def sim_stats(gw: Gateway) -> dict[str, Any]:
    assert gw.thrifty.simulator_url is not None
    async with httpx.AsyncClient() as http:
        stats: dict[str, Any] = (await http.get(gw.thrifty.simulator_url + "/_sim/stats")).json()
    return stats


@asynccontextmanager
async def sdk(gw: Gateway, key: str = "app-key") -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0) as c:
        yield c


async def test_retrieve_input_items_and_delete_are_forwarded_and_not_booked(
    gateway: Gateway, oai: openai.AsyncOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="thrifty.gateway")
    made = await oai.responses.create(model="gpt-4o-mini", input="Say hello")
    raw = await oai.responses.with_raw_response.retrieve(made.id)
    got = raw.parse()
    assert got.id == made.id and got.output_text == made.output_text
    assert raw.headers["x-thrifty-provider"] == "openai"
    items = await oai.responses.input_items.list(made.id)
    assert [item.type for item in items.data] == ["message"]
    await oai.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError, match=made.id):
        await oai.responses.retrieve(made.id)
    # One row: the paid create.  The side calls are free, so not booked...
    [row] = gateway.rows()
    assert row.endpoint == "/v1/responses"
    # ...but they reached the provider and are counted in the log.
    by_route = (await sim_stats(gateway))["by_route"]
    assert by_route["GET /v1/responses/{response_id}"] == 2
    assert by_route["DELETE /v1/responses/{response_id}"] == 1
    assert by_route["GET /v1/responses/{response_id}/input_items"] == 1
    logged = [r.getMessage() for r in caplog.records if "not booked" in r.getMessage()]
    assert "forwarded 1 GET /v1/responses/{id} call(s) so far (not booked: no tokens)" in logged
    assert any("DELETE /v1/responses/{id}" in line for line in logged)


async def test_background_response_is_polled_and_cancelled_through_the_gateway(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    quick = await oai.responses.create(model="gpt-4o-mini", input="Quick", background=True)
    assert quick.status == "queued"
    done = await oai.responses.retrieve(quick.id)  # no simulated latency: already done
    assert done.status == "completed" and done.output_text.startswith("Simulated reply")
    slow = await oai.responses.create(
        model="gpt-4o-mini", input="[[sim:latency=600000]] Long job", background=True
    )
    assert (await oai.responses.retrieve(slow.id)).status == "in_progress"
    cancelled = await oai.responses.cancel(slow.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="status 'completed'"):
        await oai.responses.cancel(quick.id)
    # The two creates, and the quick one's work, booked by the retrieve that found it done
    # (the cancelled one ended without usage: nothing to book).
    endpoints = sorted(r.endpoint for r in gateway.rows())
    assert endpoints == ["/v1/responses", "/v1/responses", "background"]


async def test_previous_response_id_works_through_the_gateway(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    first = await oai.responses.create(model="gpt-4o-mini", input="Tell me about owls")
    second = await oai.responses.create(
        model="gpt-4o-mini", input="And cats?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    items = await oai.responses.input_items.list(second.id)
    assert [i.content[0].text for i in items.data] == ["And cats?"]  # type: ignore[union-attr]


async def test_streamed_retrieve_is_a_clear_400_without_an_upstream_call(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    made = await oai.responses.create(model="gpt-4o-mini", input="Say hello")
    before = (await sim_stats(gateway))["requests"]
    with pytest.raises(openai.BadRequestError, match="does not stream a stored response"):
        await oai.responses.retrieve(made.id, stream=True)
    assert (await sim_stats(gateway))["requests"] == before


async def test_bad_ids_and_queries_are_refused_locally(gateway: Gateway) -> None:
    before = (await sim_stats(gateway))["requests"]
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        for path in (
            "/v1/responses/" + "r" * 129,
            "/v1/responses/resp%20x",
            "/v1/responses/resp_1?order=asc",  # order belongs to input_items
            "/v1/responses/resp_1/input_items?limit=" + "9" * 200,
            "/v1/responses/resp_1?" + "&".join(f"include={n}" for n in range(40)),
        ):
            answer = await http.get(path)
            assert answer.status_code == 400, (path, answer.text)
            error = answer.json()["error"]
            assert error["type"] == "invalid_request_error" and error["message"]
        # The routes exist without /v1 too, as the other OpenAI routes do.
        assert (await http.get("/responses/resp_unknown")).status_code == 404
        wrong = await http.put("/v1/responses/resp_1")
        assert wrong.status_code == 405
    assert (await sim_stats(gateway))["requests"] == before + 1  # the 404 only
    assert gateway.rows() == []


async def test_input_tokens_counts_like_create_and_guards_its_body(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, gateway={"max_body_bytes": 4096})
    async with running_gateway(settings) as gw, sdk(gw) as oai:
        counted = await oai.responses.input_tokens.count(model="gpt-4o-mini", input="Count me")
        made = await oai.responses.create(model="gpt-4o-mini", input="Count me", store=False)
        assert made.usage is not None and counted.input_tokens == made.usage.input_tokens
        with pytest.raises(openai.BadRequestError, match="OpenAI-API models"):
            await oai.responses.input_tokens.count(model="claude-haiku-4-5", input="x")
        with pytest.raises(openai.APIStatusError) as big:
            await oai.responses.input_tokens.count(model="gpt-4o-mini", input="x" * 5000)
        assert big.value.status_code == 413
        async with httpx.AsyncClient(base_url=gw.url) as http:
            text = await http.post(
                "/v1/responses/input_tokens",
                content=b'{"model":"gpt-4o-mini","input":"x"}',
                headers={"content-type": "text/plain"},
            )
            assert text.status_code == 415
            broken = await http.post(
                "/v1/responses/input_tokens",
                content=b"{not json",
                headers={"content-type": "application/json"},
            )
            assert broken.status_code == 400
        assert len(gw.rows()) == 1  # the create only


def providers(**named: dict[str, Any]) -> dict[str, Any]:
    """Provider settings (the simulator stands in for each base URL)."""
    return {name: {"base_url": "http://unused.invalid", **spec} for name, spec in named.items()}


async def test_provider_rule_named_header_then_openai_then_first_openai_dialect(
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path,
        providers=providers(
            claude={"dialect": "anthropic", "models": ["claude-*"]},
            acme={"dialect": "openai", "models": ["gpt-*"]},
            other={"dialect": "openai", "models": ["other-*"]},
        ),
    )
    async with running_gateway(settings) as gw, sdk(gw) as oai:
        made = await oai.responses.create(model="gpt-4o-mini", input="Say hello")
        raw = await oai.responses.with_raw_response.retrieve(made.id)
        assert raw.headers["x-thrifty-provider"] == "acme"  # no "openai": the first one
        named = await oai.responses.with_raw_response.retrieve(
            made.id, extra_headers={"x-thrifty-provider": "other"}
        )
        assert named.headers["x-thrifty-provider"] == "other"
        with pytest.raises(openai.NotFoundError, match="no provider named 'nope'"):
            await oai.responses.retrieve(made.id, extra_headers={"x-thrifty-provider": "nope"})
        with pytest.raises(openai.BadRequestError, match="does not speak the OpenAI API"):
            await oai.responses.retrieve(made.id, extra_headers={"x-thrifty-provider": "claude"})


async def test_without_an_openai_provider_the_routes_say_so(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, providers=providers(claude={"dialect": "anthropic", "models": ["claude-*"]})
    )
    async with running_gateway(settings) as gw, sdk(gw) as oai:
        with pytest.raises(openai.NotFoundError, match="no OpenAI-API provider"):
            await oai.responses.retrieve("resp_1")


async def test_gateway_keys_guard_the_side_routes(tmp_path: Path) -> None:
    _, key = KeyStore(keys_path(make_settings(tmp_path))).create("acme")
    async with running_gateway(make_settings(tmp_path)) as gw:
        async with sdk(gw, key) as oai:
            made = await oai.responses.create(model="gpt-4o-mini", input="Say hello")
            assert (await oai.responses.retrieve(made.id)).id == made.id
        async with sdk(gw, "thr-wrong") as stranger:
            with pytest.raises(openai.AuthenticationError):
                await stranger.responses.retrieve(made.id)
            with pytest.raises(openai.AuthenticationError):
                await stranger.responses.delete(made.id)
        [row] = gw.rows()
        assert row.tenant == "acme"


async def test_a_provider_without_a_key_is_a_401_naming_the_variable(tmp_path: Path) -> None:
    settings = Settings(ledger={"path": str(tmp_path / "ledger.db")})
    thrifty = Thrifty(settings, environ={"ANTHROPIC_API_KEY": "sk-ant-test-123456"})
    server = await start_server(create_app(thrifty))
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.get("/v1/responses/resp_1")
        assert answer.status_code == 401
        assert "OPENAI_API_KEY" in answer.json()["error"]["message"]
    finally:
        await server.stop()


async def test_the_provider_key_never_reaches_the_app(tmp_path: Path) -> None:
    """An upstream that echoes the key it was sent in an error body: the app never sees it."""
    secret = "plainsecret0123456789"

    async def echo(request: Request) -> JSONResponse:
        sent = request.headers.get("authorization", "")
        return JSONResponse({"error": {"message": f"bad key {sent}", "type": "x"}}, 401)

    upstream = await start_server(
        Starlette(routes=[Route("/v1/responses/{rid}", echo, methods=["GET"])])
    )
    settings = Settings(
        ledger={"path": str(tmp_path / "ledger.db")}, openai_base_url=upstream.url + "/v1"
    )
    thrifty = Thrifty(settings, environ={"OPENAI_API_KEY": secret})
    server = await start_server(create_app(thrifty))
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.get("/v1/responses/resp_1")
        assert answer.status_code == 401
        assert "bad key" in answer.text and secret not in answer.text
    finally:
        await server.stop()
        await upstream.stop()


async def test_models_still_lists_aliases_and_upstream_models(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    listed = {model.id async for model in oai.models.list()}
    assert {"cheap", "gpt-4o-mini", "claude-sonnet-4-6"} <= listed
    assert (await oai.models.retrieve("cheap")).id == "cheap"


async def test_compact_is_a_clear_404_never_forwarded(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    before = (await sim_stats(gateway))["requests"]
    with pytest.raises(openai.NotFoundError, match="paid call"):
        await oai.responses.compact(model="gpt-4o-mini", input="Say hello")
    assert (await sim_stats(gateway))["requests"] == before
    assert gateway.rows() == []
