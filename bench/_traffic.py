"""The client side of bench/other_gateways.py: one request, a sequential round robin over
several routes to the same upstream, and a closed-loop load run against one route.

Every route is a :class:`Route`: the chat-completions URL plus the headers that route needs
(Portkey takes its upstream in headers).  The direct route is the simulator itself.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import aiohttp

BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "max_tokens": 40,
    "messages": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Give me one sentence about benchmarking gateways."},
    ],
}
STREAM_BODY: dict[str, Any] = {
    **BODY,
    "stream": True,
    "stream_options": {"include_usage": True},
}
SIM_FINGERPRINT = "fp_sim0000001"  # the simulator's system_fingerprint
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass(frozen=True)
class Route:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    pid: int | None = None  # the gateway process, whose CPU time is measured


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process and all its descendants (0 without a pid)."""
    if pid is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = (FilePath("/proc") / entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (name) "
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    family, total = {pid}, 0.0
    for _ in range(8):  # descendants, a few generations deep
        family |= {child for child, (parent, _) in stats.items() if parent in family}
    for member in family:
        total += stats.get(member, (0, 0.0))[1]
    return total


def cpu_snapshot(routes: list[Route]) -> dict[str, float]:
    return {route.name: cpu_seconds(route.pid) for route in routes}


class BadAnswer(Exception):
    """A response that is not a 200 from the simulator."""


async def one_call(
    session: aiohttp.ClientSession, route: Route, stream: bool
) -> tuple[float, float]:
    """(time to first body byte, total time) in seconds for one chat completion."""
    started = time.perf_counter()
    body = STREAM_BODY if stream else BODY
    async with session.post(route.url, json=body, headers=route.headers) as response:
        first: float | None = None
        async for _ in response.content.iter_any():
            if first is None:
                first = time.perf_counter() - started
        total = time.perf_counter() - started
        if response.status != 200:
            raise BadAnswer(f"{route.name}: HTTP {response.status}")
    return (first if first is not None else total), total


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1]) of a non-empty list."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered) - 1e-9)))  # float slack
    return ordered[rank - 1]


def latency_summary(direct_ms: list[float], gateway_ms: list[float]) -> dict[str, float]:
    """p50/p95 of both routes and what the gateway adds at each."""
    d50, d95 = percentile(direct_ms, 0.5), percentile(direct_ms, 0.95)
    g50, g95 = percentile(gateway_ms, 0.5), percentile(gateway_ms, 0.95)
    return {
        "direct_p50_ms": d50,
        "direct_p95_ms": d95,
        "gateway_p50_ms": g50,
        "gateway_p95_ms": g95,
        "added_p50_ms": g50 - d50,
        "added_p95_ms": g95 - d95,
    }


async def verify(session: aiohttp.ClientSession, route: Route) -> None:
    """Raises BadAnswer unless a plain and a streamed call through ``route`` come back 200
    carrying the simulator's fingerprint."""
    for stream in (False, True):
        body = STREAM_BODY if stream else BODY
        async with session.post(route.url, json=body, headers=route.headers) as response:
            text = await response.text()
            if response.status != 200:
                raise BadAnswer(f"HTTP {response.status}: {text[:300]}")
        if SIM_FINGERPRINT not in text:
            kind = "streamed" if stream else "plain"
            raise BadAnswer(f"{kind} answer lacks the simulator's fingerprint: {text[:300]}")


async def sequential(
    routes: list[Route], n: int, stream: bool
) -> tuple[dict[str, list[tuple[float, float]]], dict[str, float], dict[str, str]]:
    """``n`` calls per route, one at a time, round robin with the order rotated every turn
    so drift hits every route alike.  Returns (first byte, total) seconds per route, the
    CPU milliseconds each route's process spent per call, and the routes dropped after a
    failed call (with the failure); the direct route is never dropped."""
    results: dict[str, list[tuple[float, float]]] = {p.name: [] for p in routes}
    failed: dict[str, str] = {}
    connector = aiohttp.TCPConnector(limit=len(routes) * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT) as session:

        async def timed(route: Route) -> tuple[float, float] | None:
            try:
                return await one_call(session, route, stream)
            except (BadAnswer, aiohttp.ClientError, TimeoutError) as exc:
                if route is routes[0]:
                    raise
                failed[route.name] = str(exc) or type(exc).__name__
                return None

        for _ in range(10):  # warm-up, every route
            for route in routes:
                await timed(route)
        cpu_before = cpu_snapshot(routes)
        for turn in range(n):
            shift = turn % len(routes)
            for route in routes[shift:] + routes[:shift]:
                if route.name not in failed and (timing := await timed(route)) is not None:
                    results[route.name].append(timing)
        cpu_after = cpu_snapshot(routes)
    for name in failed:
        del results[name]
    cpu_ms = {name: (cpu_after[name] - cpu_before[name]) * 1000 / n for name in results}
    return results, cpu_ms, failed


def sequential_report(
    results: dict[str, list[tuple[float, float]]],
    cpu_ms: dict[str, float],
    direct: str,
    stream: bool,
) -> dict[str, dict[str, float]]:
    """Per gateway: added latency of the total (plain) or of the first byte (stream), and
    the gateway's CPU per call."""
    index = 0 if stream else 1
    base = [r[index] * 1000 for r in results[direct]]
    return {
        name: {
            **latency_summary(base, [r[index] * 1000 for r in calls]),
            "cpu_ms_per_call": cpu_ms.get(name, 0.0),
        }
        for name, calls in results.items()
        if name != direct
    }


async def load(route: Route, concurrency: int, seconds: float, stream: bool) -> dict[str, float]:
    """Keep ``concurrency`` calls in flight for ``seconds``: successful calls per second."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    done = errors = 0
    async with aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT) as session:
        warm = await asyncio.gather(
            *(one_call(session, route, stream) for _ in range(concurrency)),
            return_exceptions=True,
        )
        errors += sum(isinstance(w, BaseException) for w in warm)
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < stop_at:
                try:
                    await one_call(session, route, stream)
                except (BadAnswer, aiohttp.ClientError, TimeoutError):
                    errors += 1
                    continue
                done += 1

        cpu_before = cpu_seconds(route.pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(route.pid) - cpu_before
    return {
        "req_per_s": done / elapsed,
        "errors": errors,
        "cpu_ms_per_call": cpu * 1000 / done if done else 0.0,
    }


async def under_load(
    routes: list[Route], direct: str, concurrency: int, seconds: float, rounds: int, stream: bool
) -> dict[str, dict[str, float]]:
    """Load runs in rounds, order rotated each round; per gateway the median throughput
    against the direct route's median in the same rounds."""
    runs: dict[str, list[dict[str, float]]] = {p.name: [] for p in routes}
    for turn in range(rounds):
        shift = turn % len(routes)
        for route in routes[shift:] + routes[:shift]:
            runs[route.name].append(await load(route, concurrency, seconds, stream))
    base = statistics.median(r["req_per_s"] for r in runs[direct])
    report: dict[str, dict[str, float]] = {}
    for name, measured in runs.items():
        rate = statistics.median(r["req_per_s"] for r in measured)
        report[name] = {
            "req_per_s": rate,
            "ratio": rate / base if base else 0.0,
            "errors": sum(r["errors"] for r in measured),
            "cpu_ms_per_call": statistics.median(r["cpu_ms_per_call"] for r in measured),
        }
    return report
