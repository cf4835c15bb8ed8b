"""``GET /v1/models`` and ``GET /v1/models/{id}`` through the official openai SDK: priced
models of the default providers, an OpenAI-compatible server's own list (the built-in
simulator), the fallback to configured names, aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.gateway.conftest import Gateway, make_settings
from thrifty.gateway import create_app
from thrifty.gateway.models import is_chat_model, parse_model_list
from thrifty.runtime import Thrifty
from thrifty.serving import RunningServer, free_port, start_server
from thrifty.sim import SimConfig, SimServer


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig(), "127.0.0.1", 0) as server:
        yield server


class FakeUpstream:
    """An OpenAI-compatible server whose /v1/models answer the test chooses."""

    def __init__(self) -> None:
        self.hits = 0
        self.auth: list[str | None] = []
        self.status = 200
        self.body: Any = {"object": "list", "data": [{"id": "llama-3-8b", "created": 5}]}

    def app(self) -> Starlette:
        async def models(request: Request) -> Response:
            self.hits += 1
            self.auth.append(request.headers.get("authorization"))
            if isinstance(self.body, bytes):
                return Response(self.body, self.status, media_type="application/json")
            return JSONResponse(self.body, self.status)

        return Starlette(routes=[Route("/v1/models", models, methods=["GET"])])


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeUpstream, str]]:
    upstream = FakeUpstream()
    server = await start_server(upstream.app())
    try:
        yield upstream, server.url + "/v1"
    finally:
        await server.stop()


async def _gateway(
    tmp_path: Path, environ: dict[str, str] | None = None, **extra: Any
) -> RunningServer:
    settings = make_settings(tmp_path, **{"simulate": False, **extra})
    thrifty = Thrifty(settings, environ=environ or {})
    return await start_server(create_app(thrifty))


def _client(server: RunningServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="app-key", max_retries=0)


async def test_default_providers_list_priced_chat_models_and_aliases(
    oai: openai.AsyncOpenAI,
) -> None:
    page = await oai.models.list()
    ids = [m.id for m in page.data]
    owners = {m.id: m.owned_by for m in page.data}
    assert ids[0] == "cheap" and owners["cheap"] == "thrifty-alias"
    for model, owner in (
        ("gpt-4o", "openai"),
        ("gpt-4o-mini", "openai"),
        ("o3-mini", "openai"),
        ("claude-sonnet-4-6", "anthropic"),
        ("claude-haiku-4-5", "anthropic"),
    ):
        assert owners.get(model) == owner, model
    assert len(ids) == len(set(ids))
    # Not chat models, not model names, or not routed to any provider.
    for absent in ("text-embedding-3-small", "whisper-1", "gpt-4o-mini-tts", "ft:gpt-4o"):
        assert absent not in owners
    assert all(m.object == "model" and isinstance(m.created, int) for m in page.data)
    again = await oai.models.list()
    assert [m.id for m in again.data] == ids  # stable order


async def test_retrieve_a_model_and_404_for_an_unknown_one(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    model = await oai.models.retrieve("gpt-4o-mini")
    assert (model.id, model.object, model.owned_by) == ("gpt-4o-mini", "model", "openai")
    alias = await oai.models.retrieve("cheap")
    assert alias.owned_by == "thrifty-alias"
    with pytest.raises(openai.NotFoundError) as caught:
        await oai.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"
    body = caught.value.body
    assert isinstance(body, dict) and "no-such-model" in body["message"]
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        legacy = await http.get("/models")
        assert legacy.status_code == 200
        assert "gpt-4o" in [m["id"] for m in legacy.json()["data"]]
        one = await http.get("/models/claude-sonnet-4-6")
        assert one.json()["owned_by"] == "anthropic"
        assert (await http.get("/v1/models/nope")).json()["error"]["code"] == "model_not_found"
    assert gateway.rows() == []  # listing models books nothing


async def test_openai_compatible_server_lists_its_own_models(
    tmp_path: Path, sim: SimServer
) -> None:
    dead = f"http://127.0.0.1:{free_port('127.0.0.1')}/v1"
    server = await _gateway(
        tmp_path,
        providers={
            # Keyless, no price provider: the simulator's own /v1/models, filtered by globs.
            "local": {
                "dialect": "openai",
                "base_url": sim.openai_base_url,
                "models": ["gpt-4o*", "not-listed-upstream"],
            },
            # Nothing listens there: its exact configured names, never an error.
            "down": {
                "dialect": "openai",
                "base_url": dead,
                "models": ["mistral-7b", "phi-*", "qwen/qwen3-8b"],
                "connect_timeout_s": 1,
            },
        },
        routing={"aliases": {"fast": "gpt-4o-mini"}},
    )
    try:
        async with _client(server) as oai:
            page = await oai.models.list()
            owners = {m.id: m.owned_by for m in page.data}
            assert list(owners) == [
                "fast",
                "gpt-4o",
                "gpt-4o-mini",
                "gpt-4o-search-preview",
                "gpt-4o-mini-search-preview",
                "mistral-7b",
                "qwen/qwen3-8b",
            ]
            assert owners["fast"] == "thrifty-alias"
            assert owners["gpt-4o"] == "local" and owners["mistral-7b"] == "down"
            assert (await oai.models.retrieve("gpt-4o")).created > 0  # the upstream's own
            # An id with a "/" is sent as %2F by the SDK: still the model, not a route.
            assert (await oai.models.retrieve("qwen/qwen3-8b")).owned_by == "down"
            with pytest.raises(openai.NotFoundError):
                await oai.models.retrieve("not-listed-upstream")
    finally:
        await server.stop()


async def test_upstream_list_is_cached_sent_with_the_key_and_falls_back(
    tmp_path: Path, fake: tuple[FakeUpstream, str]
) -> None:
    upstream, base = fake
    server = await _gateway(
        tmp_path,
        environ={"VLLM_KEY": "sk-vllm"},
        providers={
            "vllm": {
                "dialect": "openai",
                "base_url": base,
                "api_key_env": "VLLM_KEY",
                "models": ["*"],
            }
        },
    )
    try:
        async with _client(server) as oai:
            first = [m.id for m in (await oai.models.list()).data]
            second = [m.id for m in (await oai.models.list()).data]
            assert first == second == ["llama-3-8b"]
            assert upstream.hits == 1  # cached
            assert upstream.auth == ["Bearer sk-vllm"]  # the provider's key, not the app's
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"error": "boom"}), (200, b"not json"), (200, {"data": "x"}), (404, b"")],
)
async def test_a_broken_upstream_list_falls_back_to_configured_names(
    tmp_path: Path, fake: tuple[FakeUpstream, str], status: int, body: Any
) -> None:
    upstream, base = fake
    upstream.status, upstream.body = status, body
    server = await _gateway(
        tmp_path,
        providers={"vllm": {"dialect": "openai", "base_url": base, "models": ["my-model", "x-*"]}},
    )
    try:
        async with _client(server) as oai:
            page = await oai.models.list()
            assert [(m.id, m.owned_by) for m in page.data] == [("my-model", "vllm")]
    finally:
        await server.stop()


def test_parse_model_list_keeps_only_sane_names() -> None:
    payload = {
        "data": [
            {"id": "ok", "created": 7},
            {"id": "bad\r\nname"},
            {"id": ""},
            {"id": "x" * 300},
            {"id": 5},
            "junk",
            {"id": "flag", "created": True},
        ]
    }
    assert parse_model_list(payload) == [("ok", 7), ("flag", 0)]
    assert parse_model_list({"models": [{"model": "llama"}]}) == [("llama", 0)]
    with pytest.raises(ValueError):
        parse_model_list([])


def test_chat_model_filter() -> None:
    assert is_chat_model("gpt-4o-mini") and is_chat_model("claude-opus-4-1")
    for name in ("text-embedding-3-large", "gpt-4o-mini-tts", "gpt-image-1", "whisper-1"):
        assert not is_chat_model(name)
