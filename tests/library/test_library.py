"""thrifty as a library: the async API and the sync facade run the same pipeline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from thrifty.config import Settings
from thrifty.errors import BadRequest, ConfigError, ModelNotFound
from thrifty.runtime import SyncThrifty, Thrifty


def settings(tmp_path: Path) -> Settings:
    return Settings(
        ledger={"path": str(tmp_path / "l.db")},
        simulator={"port": 0},
        routing={"tasks": {"summarize": "gpt-4o-mini"}},
    )


async def test_async_chat_routes_and_books(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        assert thrifty.simulator_url is not None  # no key in environ: simulator
        response = await thrifty.chat(
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            task="summarize",
        )
        assert response.model == "gpt-4o-mini"
        assert response.body is not None and response.body["choices"]
        assert response.cost is not None and response.cost.usd is not None
        assert response.baseline is not None and response.baseline.usd is not None
        assert response.baseline.usd > response.cost.usd
        [row] = thrifty.ledger.rows()
        assert row.endpoint == "library" and row.task == "summarize"


async def test_async_errors_are_typed_and_booked(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        with pytest.raises(BadRequest):
            await thrifty.chat({"model": "gpt-4o", "messages": []})
        with pytest.raises(ModelNotFound):
            await thrifty.chat({"model": "mystery", "messages": [{"role": "user", "content": "x"}]})
        assert [r.status for r in thrifty.ledger.rows()] == [404]


def test_sync_facade(tmp_path: Path) -> None:
    with SyncThrifty(settings(tmp_path), environ={}) as thrifty:
        response = thrifty.chat(
            {
                "model": "claude-sonnet-4-6",
                "max_tokens": 30,
                "messages": [{"role": "user", "content": "hello"}],
            },
            dialect="anthropic",
        )
        assert response.body is not None and response.body["type"] == "message"
        assert response.usage.output_tokens > 0


async def test_missing_provider_key_error_names_the_variable(tmp_path: Path) -> None:
    s = Settings(ledger={"path": str(tmp_path / "l.db")}, simulate=False)
    async with Thrifty(s, environ={}) as thrifty:
        with pytest.raises(Exception, match="OPENAI_API_KEY"):
            await thrifty.chat({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})


async def test_failed_start_shuts_down_what_it_started(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    s = Settings(ledger={"path": str(blocker / "ledger.db")}, simulator={"port": 0})
    thrifty = Thrifty(s, environ={})
    with pytest.raises(ConfigError, match="ledger"):
        await thrifty.start()
    assert thrifty.simulator_url is not None  # it had started the simulator...
    host_port = thrifty.simulator_url.removeprefix("http://")
    host, port = host_port.split(":")
    with pytest.raises(OSError):  # ...and stopped it again
        _, writer = await asyncio.open_connection(host, int(port))
        writer.close()


async def test_concurrent_first_calls_start_everything_once(tmp_path: Path) -> None:
    thrifty = Thrifty(settings(tmp_path), environ={})
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    try:
        await asyncio.gather(*(thrifty.chat(body) for _ in range(5)))
        assert len(thrifty.ledger.rows()) == 5
        first_ledger = thrifty.ledger
        await thrifty.start()  # already started: a no-op
        assert thrifty.ledger is first_ledger
    finally:
        await thrifty.aclose()


async def test_the_upstream_connection_limit_is_the_configured_one(tmp_path: Path) -> None:
    """Sized for LLM latencies: the pool must not cap calls in flight at a small number."""
    from thrifty.config import Settings

    default = Settings(ledger={"path": str(tmp_path / "a.db")}, simulate=True)
    async with Thrifty(default, environ={}) as thrifty:
        assert thrifty.pool.limit == 4096
    small = Settings(
        ledger={"path": str(tmp_path / "b.db")},
        simulate=True,
        gateway={"max_upstream_connections": 7},
    )
    async with Thrifty(small, environ={}) as thrifty:
        assert thrifty.pool.limit == 7
