"""Coalescing and idempotency benchmark: what a burst of identical requests costs with the
levers on and off, and what the levers add to requests they do not answer, measured in
the same run.

    .venv/bin/python bench/coalescing.py [--requests N] [--rounds R] [--out results.json]

Gateways run in this process on loopback (uvicorn, as ``thrifty serve`` runs them),
each with its own simulator and SQLite ledger; the exact cache is off in all, so that
only the levers measured here act:

* ``off``: coalescing, idempotency and debounce off (the baseline);
* ``on``: the defaults (coalescing for deterministic requests, idempotency keys with the
  SQLite store next to the ledger); two more gateways like it serve the idempotency cases,
  so that each case writes its own ledger and store.

Figures:

* **burst**: 100 identical requests (``temperature: 0``) sent at once, the simulator
  answering each call after 300 ms; upstream calls and wall time of the whole burst,
  median over ``--rounds`` (each round a new prompt, alternating which gateway goes first);
* **overhead**: requests sent one at a time, each new (never shared, never replayed): the
  thread CPU time per request, over blocks of 50 requests per case in a shuffled order,
  with the levers on against off (client, gateway and simulator share the one thread and
  do the same work in both, so the difference is the gateway's): what computing the flight
  key and running the call in a task of its own cost;
* **idempotency**: on gateways like ``on``, a request with a new ``Idempotency-Key`` (looked
  up, called, stored) and a repeat of one (replayed from the store), against ``off``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from thrifty.config import Settings
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import RunningServer, start_server

BURST = 100
BLOCK = 50
PROMPT = "[[sim:latency={latency}]] Name the capital of country number {n:08d}."


class Gateway:
    def __init__(self, name: str, root: Path, levers: dict[str, Any]) -> None:
        self.name = name
        settings = Settings(ledger={"path": root / f"{name}.db"}, levers=levers, simulate=True)
        self.thrifty = Thrifty(settings, environ={})
        self.server: RunningServer | None = None
        self.url = ""

    async def start(self) -> None:
        await self.thrifty.start()
        self.server = await start_server(create_app(self.thrifty))
        self.url = self.server.url

    async def upstream_calls(self, session: aiohttp.ClientSession) -> int:
        async with session.get(f"{self.thrifty.simulator_url}/_sim/stats") as answer:
            return int((await answer.json())["requests"])

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        await self.thrifty.aclose()


def body(n: int, latency: int = 0) -> dict[str, Any]:
    content = PROMPT.format(latency=latency, n=n)
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        "max_tokens": 40,
    }


async def ask(
    session: aiohttp.ClientSession, url: str, payload: dict[str, Any], key: str | None = None
) -> dict[str, str]:
    headers = {"Idempotency-Key": key} if key else {}
    async with session.post(url + "/v1/chat/completions", json=payload, headers=headers) as got:
        text = await got.read()
        if got.status != 200:
            raise RuntimeError(f"{url}: HTTP {got.status}: {text[:300]!r}")
        return dict(got.headers)


async def burst(session: aiohttp.ClientSession, gateway: Gateway, n: int) -> dict[str, float]:
    before = await gateway.upstream_calls(session)
    started = time.perf_counter()
    payload = body(n, latency=300)
    await asyncio.gather(*(ask(session, gateway.url, payload) for _ in range(BURST)))
    wall = time.perf_counter() - started
    return {"calls": await gateway.upstream_calls(session) - before, "wall_ms": wall * 1000}


async def bursts(
    session: aiohttp.ClientSession, gateways: dict[str, Gateway], rounds: int
) -> dict[str, Any]:
    seen: dict[str, list[dict[str, float]]] = {name: [] for name in gateways}
    order = ["off", "on"]
    for number in range(rounds):
        order.reverse()  # alternate which goes first
        for name in order:
            seen[name].append(await burst(session, gateways[name], 10**6 + number))
    seen = {name: runs for name, runs in seen.items() if runs}
    figures = {
        name: {
            "upstream_calls_median": statistics.median(r["calls"] for r in runs),
            "upstream_calls_max": max(r["calls"] for r in runs),
            "wall_ms_median": round(statistics.median(r["wall_ms"] for r in runs), 1),
        }
        for name, runs in seen.items()
    }
    on, off = figures["on"], figures["off"]
    figures["calls_ratio_off_over_on"] = off["upstream_calls_median"] / on["upstream_calls_median"]
    figures["wall_ratio_on_over_off"] = round(on["wall_ms_median"] / off["wall_ms_median"], 3)
    return figures


async def overhead(
    session: aiohttp.ClientSession, gateways: dict[str, Gateway], requests: int
) -> dict[str, Any]:
    """Sequential new requests: what the levers add to requests they do not answer; then
    idempotency keys, new and repeated.  Measured as the thread's CPU time over blocks of
    ``BLOCK`` requests (client, gateway and simulator share the thread and do the same
    work in every case but the gateway's), blocks of each case in a shuffled order."""
    fresh = iter(range(10**9))
    cases = {
        "off": (gateways["off"], "none"),
        "on": (gateways["on"], "none"),
        "on_new_key": (gateways["keys"], "new"),
        "on_replay": (gateways["replay"], "repeat"),
    }
    cpu_us: dict[str, list[float]] = {name: [] for name in cases}
    await ask(session, gateways["replay"].url, body(-1), key="repeat-me")  # the kept answer
    order = list(cases)
    for block in range(requests // BLOCK + 1):  # the first block of each warms up
        random.shuffle(order)
        for name in order:
            gateway, key = cases[name]
            started = time.thread_time()
            for _ in range(BLOCK):
                if key == "repeat":
                    headers = await ask(session, gateway.url, body(-1), key="repeat-me")
                    assert headers.get("x-thrifty-idempotency") == "replay", headers
                    continue
                n = next(fresh)
                await ask(session, gateway.url, body(n), key=f"k{n}" if key == "new" else None)
            if block:
                cpu_us[name].append((time.thread_time() - started) / BLOCK * 1e6)
    median = {name: round(statistics.median(values), 1) for name, values in cpu_us.items()}
    off = median["off"]
    return {
        "cpu_us_per_request_median": median,
        "blocks": {name: len(values) for name, values in cpu_us.items()},
        "coalesce_adds_cpu_us": round(median["on"] - off, 1),
        "new_key_adds_cpu_us": round(median["on_new_key"] - off, 1),
        "replay_over_call_cpu_ratio": round(median["on_replay"] / off, 3),
    }


async def main(requests: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        off = {name: {"enabled": False} for name in ("coalesce", "idempotency", "debounce")}
        on = {"cache": {"enabled": False}}
        gateways = {
            "off": Gateway("off", root, {**off, "cache": {"enabled": False}}),
            "on": Gateway("on", root, on),
            "keys": Gateway("keys", root, on),  # its own: each case writes its own ledger
            "replay": Gateway("replay", root, on),
        }
        for gateway in gateways.values():
            await gateway.start()
        try:
            # Sequential requests first, bursts last: a burst leaves a hundred idle upstream
            # connections in each gateway's pool, which the simulator closes after its
            # keep-alive timeout, and reusing one of those can fail a request (a 502).
            async with aiohttp.ClientSession() as session:
                overhead_figures = await overhead(session, gateways, requests)
            limits = aiohttp.TCPConnector(limit=2 * BURST)
            async with aiohttp.ClientSession(connector=limits) as session:
                burst_figures = await bursts(session, gateways, rounds)
            return {"burst": burst_figures, "overhead": overhead_figures}
        finally:
            for gateway in gateways.values():
                await gateway.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests per case")
    parser.add_argument("--rounds", type=int, default=5, help="bursts per gateway")
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args()
    figures = asyncio.run(main(args.requests, args.rounds))
    print(json.dumps(figures, indent=2))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
