"""Embeddings through the gateway: what the gateway adds to a large answer, floats against
base64, measured in the same run.

    .venv/bin/python bench/embeddings_passthrough.py [--inputs 260] [--rounds 15]

One simulator (an OpenAI-compatible upstream on loopback) and two gateways in this
process: ``cache off`` (``[levers.cache] enabled = false``: pure pass-through) and
``cache on`` (the default: every input new, so each request is a miss whose vectors are
stored).  Each request embeds ``--inputs`` new texts with ``text-embedding-3-small``
(1,536 dimensions): about 8 MB of JSON with ``encoding_format: "float"`` and 2 MB with
``"base64"``.  Requests are sent one at a time, the four kinds (two formats x two gateways)
in a shuffled order each round, so the machine's load drifts over all of them alike.

The gateway's own time is measured inside its ASGI app (from the moment the server hands
it the request to its last write) minus the simulator's time for the same request (the
simulator runs in the same thread, inside that span), as wall time and as the event loop
thread's CPU time.  CPU is what to read on a loaded machine.  The ``ratio`` column is
float over base64 on the same gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from thrifty.config import Settings
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import start_server
from thrifty.sim import create_app as create_sim_app

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
KEY = "sk-bench-0000000000"


class Timed:
    """An ASGI app with the wall and CPU time of each HTTP request it served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.wall: list[float] = []
        self.cpu: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, started_cpu = time.perf_counter(), time.thread_time()
        await self.app(scope, receive, send)
        self.wall.append(time.perf_counter() - started)
        self.cpu.append(time.thread_time() - started_cpu)


async def gateway(root: Path, name: str, upstream: str, cache: bool) -> tuple[Timed, Any]:
    settings = Settings(
        ledger={"path": root / f"{name}.db"},
        levers={"cache": {"enabled": cache}},
        openai_base_url=upstream + "/v1",
        gateway={"max_body_bytes": 64 * 2**20},
    )
    thrifty = Thrifty(settings, environ={"OPENAI_API_KEY": KEY})
    await thrifty.start()
    app = Timed(create_app(thrifty))
    server = await start_server(app)
    return app, (server, thrifty)


def payload(fmt: str, inputs: int, serial: int) -> dict[str, Any]:
    texts = [f"bench text {serial:06d}-{i:04d}: a lighthouse keeper's log" for i in range(inputs)]
    return {"model": "text-embedding-3-small", "input": texts, "encoding_format": fmt}


def ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 2)


async def run(inputs: int, rounds: int) -> dict[str, Any]:
    sim = Timed(create_sim_app())
    sim_server = await start_server(sim)
    kinds = [(g, f) for g in ("cache off", "cache on") for f in ("float", "base64")]
    own: dict[tuple[str, str], dict[str, list[float]]] = {
        kind: {"wall": [], "cpu": [], "bytes": []} for kind in kinds
    }
    with tempfile.TemporaryDirectory() as tmp:
        gateways = {
            name: await gateway(
                Path(tmp), name.replace(" ", "-"), sim_server.url, name == "cache on"
            )
            for name in ("cache off", "cache on")
        }
        urls = {name: running[1][0].url for name, running in gateways.items()}
        serial = 0
        try:
            async with aiohttp.ClientSession() as session:
                for round_no in range(rounds + 1):  # round 0 warms up
                    order = list(kinds)
                    random.shuffle(order)
                    for name, fmt in order:
                        serial += 1
                        app = gateways[name][0]
                        body = payload(fmt, inputs, serial)
                        async with session.post(urls[name] + "/v1/embeddings", json=body) as r:
                            data = await r.read()
                            if r.status != 200:
                                raise RuntimeError(f"{name}: HTTP {r.status}: {data[:200]!r}")
                        if round_no == 0:
                            continue
                        kind = own[(name, fmt)]
                        kind["wall"].append(app.wall[-1] - sim.wall[-1])
                        kind["cpu"].append(app.cpu[-1] - sim.cpu[-1])
                        kind["bytes"].append(len(data))
        finally:
            for server, thrifty in (running[1] for running in gateways.values()):
                await server.stop()
                await thrifty.aclose()
            await sim_server.stop()
    rows = []
    for name in ("cache off", "cache on"):
        base = own[(name, "base64")]
        for fmt in ("float", "base64"):
            kind = own[(name, fmt)]
            rows.append(
                {
                    "gateway": name,
                    "format": fmt,
                    "answer_mb": round(statistics.median(kind["bytes"]) / 1e6, 2),
                    "own_wall_ms": ms(kind["wall"]),
                    "own_cpu_ms": ms(kind["cpu"]),
                    "cpu_ratio_to_base64": round(
                        statistics.median(kind["cpu"]) / statistics.median(base["cpu"]), 2
                    ),
                }
            )
    return {"inputs": inputs, "rounds": rounds, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=260)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args.inputs, args.rounds))
    print("| gateway | format | answer | own wall p50 | own CPU p50 | CPU vs base64 |")
    print("|---|---|---|---|---|---|")
    for row in result["rows"]:
        print(
            f"| {row['gateway']} | {row['format']} | {row['answer_mb']} MB | "
            f"{row['own_wall_ms']} ms | {row['own_cpu_ms']} ms | "
            f"{row['cpu_ratio_to_base64']}x |"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
