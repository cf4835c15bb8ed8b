"""The semantic cache through the gateway, with the openai SDK: a paraphrase is served
from cache (streamed and not) and booked as a saving, a guarded trap goes upstream, and a
tenant never gets another tenant's answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings
from thrifty.gateway import create_app
from thrifty.levers.fewer_calls.semantic import stage
from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder
from thrifty.runtime import Thrifty
from thrifty.serving import start_server


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
async def gateway(
    tmp_path: Path, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    # One model for the module's gateways (each would load its own).
    monkeypatch.setattr(stage, "make_embedder", lambda model, threads: minilm)
    settings = make_settings(
        tmp_path,
        levers={"semantic_cache": {"enabled": True, "threshold": 0.85, "explore_rate": 0.0}},
    )
    thrifty = Thrifty(settings, environ={})
    server = await start_server(create_app(thrifty))
    try:
        yield Gateway(url=server.url, thrifty=thrifty, server=server)
    finally:
        await server.stop()


def ask(text: str) -> dict[str, object]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


async def test_a_paraphrase_is_served_from_cache_and_booked(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    first = await oai.chat.completions.with_raw_response.create(
        **ask("How do I turn on dark mode?")  # type: ignore[arg-type]
    )
    second = await oai.chat.completions.with_raw_response.create(
        **ask("How can I turn on the dark mode?")  # type: ignore[arg-type]
    )
    assert first.headers["x-thrifty-semantic-cache"] == "miss"
    assert second.headers["x-thrifty-semantic-cache"] == "hit"
    assert float(second.headers["x-thrifty-semantic-similarity"]) >= 0.85
    assert "n=0" in second.headers["x-thrifty-semantic-error-estimate"]
    a, b = first.parse(), second.parse()
    assert b.choices[0].message.content == a.choices[0].message.content
    miss_row, hit_row = gateway.rows()
    assert hit_row.cost_usd == 0 and hit_row.calls == ()
    assert miss_row.cost_usd is not None and miss_row.cost_usd > 0
    assert hit_row.savings == {"semantic_cache": miss_row.cost_usd}
    assert Decimal(second.headers["x-thrifty-saved-usd"]) == miss_row.cost_usd


async def test_a_stream_hit_is_a_stream(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    async def stream(text: str) -> tuple[str, str]:
        raw = await oai.chat.completions.with_raw_response.create(
            **ask(text),
            stream=True,  # type: ignore[arg-type]
        )
        parts = [c.delta.content or "" async for chunk in raw.parse() for c in chunk.choices]
        return raw.headers["x-thrifty-semantic-cache"], "".join(parts)

    miss, text = await stream("What is the capital of France?")
    hit, again = await stream("What's the capital of France?")
    assert (miss, hit) == ("miss", "hit")
    assert again == text and text


async def test_a_trap_goes_upstream(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    await oai.chat.completions.create(**ask("How do I turn on dark mode?"))  # type: ignore[arg-type]
    trap = await oai.chat.completions.with_raw_response.create(
        **ask("How do I turn off dark mode?")  # type: ignore[arg-type]
    )
    assert trap.headers["x-thrifty-semantic-cache"] == "veto-polarity"
    assert gateway.rows()[1].cost_usd != 0


async def test_tenants_are_kept_apart(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    def tenant(name: str) -> dict[str, dict[str, str]]:
        return {"extra_headers": {"x-thrifty-tenant": name}}

    text = ask("What is our refund policy?")
    await oai.chat.completions.create(**text, **tenant("acme"))  # type: ignore[arg-type]
    other = await oai.chat.completions.with_raw_response.create(**text, **tenant("globex"))  # type: ignore[arg-type]
    again = await oai.chat.completions.with_raw_response.create(**text, **tenant("acme"))  # type: ignore[arg-type]
    assert other.headers["x-thrifty-semantic-cache"] == "miss"
    assert again.headers["x-thrifty-semantic-cache"] == "hit"
    assert [row.tenant for row in gateway.rows()] == ["acme", "globex", "acme"]


async def test_bypass_header(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    await oai.chat.completions.create(**ask("Name three rivers"))  # type: ignore[arg-type]
    bypass = await oai.chat.completions.with_raw_response.create(
        **ask("Name three rivers"),
        extra_headers={"x-thrifty-cache": "bypass"},  # type: ignore[arg-type]
    )
    assert "x-thrifty-semantic-cache" not in bypass.headers
    assert gateway.rows()[1].cost_usd != 0
