"""A simulator with batch endpoints on loopback, and a runtime whose providers point at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from thrifty.batch import Batches
from thrifty.config import Settings
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import RunningServer, start_server
from thrifty.sim import SimConfig, SimServer, sim_state


def openai_line(custom_id: str, text: str, model: str = "gpt-4o-mini", **body: Any) -> bytes:
    wire = {"model": model, "messages": [{"role": "user", "content": text}], **body}
    line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": wire}
    return orjson.dumps(line)


def anthropic_line(
    custom_id: str, text: str, model: str = "claude-haiku-4-5", **params: Any
) -> bytes:
    wire = {"model": model, "max_tokens": 200, **params}
    wire["messages"] = [{"role": "user", "content": text}]
    return orjson.dumps({"custom_id": custom_id, "params": wire})


def settings_for(sim: SimServer, tmp_path: Path, **extra: Any) -> Settings:
    data: dict[str, Any] = {
        "ledger": {"path": str(tmp_path / "ledger.db")},
        "openai_base_url": sim.openai_base_url,
        "anthropic_base_url": sim.base_url,
        "batch": {"poll_interval_s": 0.01},
    }
    data.update(extra)
    return Settings(**data)


def submissions(sim: SimServer) -> int:
    """Batch jobs the simulator was asked to create (both providers)."""
    routes = sim_state(sim.app).stats.by_route
    return routes.get("/v1/batches", 0) + routes.get("/v1/messages/batches", 0)


@dataclass
class Harness:
    sim: SimServer
    settings: Settings

    def runtime(self) -> Thrifty:
        return Thrifty(self.settings, environ={})

    async def run(self, lines: Iterable[bytes], **kw: Any) -> tuple[Any, list[Any], list[Any]]:
        """Submit, wait, and return (submitted, items, ledger rows)."""
        async with self.runtime() as thrifty, Batches.of(thrifty) as batches:
            submitted = await batches.submit(lines, **kw)
            assert submitted.handle is not None
            items = await submitted.handle.wait(0.01)
            return submitted, items, thrifty.ledger.rows()


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    config = SimConfig(batch_duration_s=0.0)
    async with SimServer(config) as server:
        yield server


@pytest.fixture
async def gateway(sim: SimServer, tmp_path: Path) -> AsyncIterator[tuple[RunningServer, Thrifty]]:
    """The gateway on loopback, its providers pointed at the simulator."""
    thrifty = Thrifty(settings_for(sim, tmp_path), environ={})
    server = await start_server(create_app(thrifty))
    try:
        yield server, thrifty
    finally:
        await server.stop()


@pytest.fixture
def harness(sim: SimServer, tmp_path: Path) -> Harness:
    return Harness(sim, settings_for(sim, tmp_path))
