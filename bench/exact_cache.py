"""Exact cache benchmark: gateway time of a hit, and what a miss adds, against the same
gateway with the cache off, measured in the same run.

    .venv/bin/python bench/exact_cache.py [--requests N] [--out results.json]

Three gateways run in this process on loopback (uvicorn, as ``thrifty serve`` runs them),
each with its own simulator answering at once and its own SQLite ledger:

* ``off``:  ``[levers.cache] enabled = false``, the baseline;
* ``miss``: the cache on (SQLite store next to the ledger), every request new, so every
  one is looked up, goes upstream and is stored;
* ``hit``:  the cache on, one request asked again and again (answered from the store);
* ``floor``: ``GET /v1/models`` on a fourth gateway: the HTTP server and the app with no
  pipeline at all, a yardstick for how fast the machine is during the run.

First, the cache stage alone in-process (no HTTP): CPU per request passed through, on a
miss (the write excluded: it runs later) and on a hit, the same prompts as the gateways'.

Gateway time is measured inside the ASGI app, from the moment the server hands it the
request to its last write (so the client is not in it; the upstream is, for ``off`` and
``miss``), as wall time and as the CPU time of the event loop's thread over the same span.
The CPU figure is what to read on a loaded machine: wall time there is mostly waiting for
a core.  (The simulator runs in the same thread, so its CPU is in ``off`` and ``miss``
alike and cancels out of the difference.)  Requests are sent one at a time, rotating
between the three in a shuffled order each round, so the machine's load drifts over all
three alike.  Requests are OpenAI chat
completions (``gpt-4o-mini``, ``temperature: 0``, answers of 50-100 tokens that end on their
own, so every miss is stored: the figures include the write), non-streamed and streamed
(``stream_options.include_usage``).
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
from thrifty.levers.fewer_calls.cache_store import cache_path
from thrifty.runtime import Thrifty
from thrifty.serving import RunningServer, start_server
from thrifty.store import MemoryCache, SqliteCache

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
PROMPT = "Summarise the plot of a novel about a lighthouse keeper, number {n:08d}."


def timed(app: ASGIApp, times: list[float], cpu: list[float]) -> ASGIApp:
    async def wrapper(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started, started_cpu = time.perf_counter(), time.thread_time()
        await app(scope, receive, send)
        times.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)

    return wrapper


class Gateway:
    def __init__(self, name: str, root: Path, cache: bool) -> None:
        self.name = name
        self.times: list[float] = []
        self.cpu: list[float] = []
        settings = Settings(
            ledger={"path": root / f"{name}.db"},
            levers={"cache": {"enabled": cache}},
            simulate=True,
        )
        self.thrifty = Thrifty(settings, environ={})
        self.server: RunningServer | None = None

    async def start(self) -> str:
        await self.thrifty.start()
        self.server = await start_server(timed(create_app(self.thrifty), self.times, self.cpu))
        return self.server.url

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        await self.thrifty.aclose()


def body(n: int, stream: bool) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": PROMPT.format(n=n)}],
        "temperature": 0,
        "max_tokens": 1000,  # answers end on their own: each miss is stored
    }
    if stream:
        wire.update(stream=True, stream_options={"include_usage": True})
    return wire


async def ask(session: aiohttp.ClientSession, url: str, payload: dict[str, Any] | None) -> str:
    """POST a chat completion (``payload``), or GET /v1/models (``None``)."""
    if payload is None:
        call = session.get(url + "/v1/models")
    else:
        call = session.post(url + "/v1/chat/completions", json=payload)
    async with call as answer:
        await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{url}: HTTP {answer.status}")
        return answer.headers.get("x-thrifty-cache", "-")


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "p50_ms": round(statistics.median(ms), 4),
        "p90_ms": round(ms[int(len(ms) * 0.9)], 4),
        "mean_ms": round(statistics.fmean(ms), 4),
    }


async def write_cost(store: SqliteCache, size: int, count: int = 2000) -> dict[str, float]:
    """CPU time of one store write of ``size`` bytes, as a miss makes it after answering
    (into the very store the run filled, so at its size)."""
    value = b"x" * size
    times = []
    for n in range(count):
        started = time.thread_time()
        await store.set(f"bench-{n}", value, ttl_s=86_400.0)
        times.append(time.thread_time() - started)
        await asyncio.sleep(0)
    return summary(times)


async def run(requests: int, stream: bool, root: Path) -> dict[str, Any]:
    mode = "stream" if stream else "plain"
    gateways = {
        "off": Gateway(f"off-{mode}", root, cache=False),
        "miss": Gateway(f"miss-{mode}", root, cache=True),
        "hit": Gateway(f"hit-{mode}", root, cache=True),
        "floor": Gateway(f"floor-{mode}", root, cache=False),
    }
    urls = {name: await g.start() for name, g in gateways.items()}
    miss_store = cache_path(gateways["miss"].thrifty.settings)
    seen: dict[str, set[str]] = {name: set() for name in gateways}
    fresh = iter(range(10**9))
    try:
        async with aiohttp.ClientSession() as session:
            await ask(session, urls["hit"], body(-1, stream))  # stores the answer

            def payload(name: str) -> dict[str, Any] | None:
                if name == "floor":
                    return None
                return body(-1 if name == "hit" else next(fresh), stream)

            for name in gateways:  # warm up: connections, first-call costs
                for _ in range(50):
                    await ask(session, urls[name], payload(name))
                gateways[name].times.clear()
                gateways[name].cpu.clear()
            order = list(gateways)
            for _ in range(requests):
                random.shuffle(order)
                for name in order:
                    seen[name].add(await ask(session, urls[name], payload(name)))
    finally:
        for gateway in gateways.values():
            await gateway.stop()
    assert seen == {"off": {"-"}, "miss": {"miss"}, "hit": {"hit"}, "floor": {"-"}}, seen
    async with SqliteCache(miss_store, table="exact_cache") as store:
        stats = await store.stats()
        stored = stats.entries
        write_cpu = await write_cost(store, stats.bytes // max(1, stats.entries))
    wall = {name: summary(g.times) for name, g in gateways.items()}
    cpu = {name: summary(g.cpu) for name, g in gateways.items()}
    return {
        "mode": mode,
        "requests": requests,
        "misses_stored": stored,
        "gateway_time": wall,
        "thread_cpu_time": cpu,
        "miss_adds_p50_ms": round(wall["miss"]["p50_ms"] - wall["off"]["p50_ms"], 4),
        "miss_adds_cpu_p50_ms": round(cpu["miss"]["p50_ms"] - cpu["off"]["p50_ms"], 4),
        "entry_bytes": stats.bytes // max(1, stats.entries),
        "write_after_answer_cpu": write_cpu,
        "hit_vs_off_p50_ratio": round(wall["hit"]["p50_ms"] / wall["off"]["p50_ms"], 3),
    }


async def stage_cost(root: Path, count: int = 3000) -> dict[str, Any]:
    """The cache stage alone, in-process (thrifty.testing's FakeUpstream under it, the
    SQLite store): CPU per request passed through with the cache off, on a miss (without
    the write, which runs later) and on a hit."""
    from thrifty.levers.fewer_calls.cache import ExactCache
    from thrifty.levers.fewer_calls.cache_policy import policies_for
    from thrifty.testing import FakeUpstream, reply, request_for
    from thrifty.types import Usage

    usage = Usage(input_tokens=30, output_tokens=80)
    upstream = FakeUpstream(lambda r: reply(r, "word " * 80, usage))
    off = ExactCache(MemoryCache(), policies_for(Settings(levers={"cache": {"enabled": False}})))
    async with SqliteCache(root / "stage.db", table="exact_cache") as store:
        cache = ExactCache(store, policies_for(Settings()))
        handlers = {"pass_through": off(upstream), "miss": cache(upstream), "hit": cache(upstream)}
        figures = {}
        for name, handler in handlers.items():
            times = []
            for n in range(count):
                request = request_for("gpt-4o-mini", PROMPT.format(n=n), temperature=0)
                started = time.thread_time()
                await handler(request)
                times.append(time.thread_time() - started)
            await cache.drain()  # the writes, after the timed requests (as after answering)
            figures[name] = summary(times)
    return figures


async def main(requests: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        stage = await stage_cost(Path(tmp))
        results.append({"mode": "stage alone", "thread_cpu_time": stage})
        print(json.dumps(results[0], indent=2))
        for stream in (False, True):
            result = await run(requests, stream, Path(tmp))
            results.append(result)
            print(json.dumps(result, indent=2))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per gateway")
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args()
    figures = asyncio.run(main(args.requests))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
