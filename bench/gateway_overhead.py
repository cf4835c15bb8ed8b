"""Gateway overhead: latency through thrifty minus latency straight to the upstream.

Everything runs in this one command, so the baseline (direct to the simulator) and the
gateway are measured on the same machine in the same minutes:

* two simulator processes (upstream answering in 0 ms for the sequential runs, and in
  ``--upstream-ms`` for the load runs),
* two gateway processes (``thrifty serve --openai-base-url ...``), each writing its SQLite
  ledger (ledger writes are part of what is measured),
* this process as the client (aiohttp; the load generator keeps ``--concurrency`` requests
  in flight).

The simulator sends a whole streamed answer in one write, so in the main stream run the time
to first byte equals the total time (and includes the ledger commit, which precedes the
final event).  The ``stream_trickle`` run has the simulator pause ``--chunk-delay-ms``
between chunks, as a real model does between tokens.

Sequential: requests alternate direct / via gateway, so drift hits both equally.
Reported: p50/p90 latency and the p50 overhead, non-streaming and streaming (time to first
byte and total).  Load: throughput over ``--seconds`` with ``--concurrency`` in flight,
direct vs gateway, in rounds alternating the order; the ratio gateway/direct is the figure.

    .venv/bin/python bench/gateway_overhead.py            # full run (about 2 minutes)
    .venv/bin/python bench/gateway_overhead.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

BODY = {
    "model": "gpt-4o-mini",
    "max_tokens": 40,
    "messages": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Give me one sentence about benchmarking gateways."},
    ],
}
STREAM_BODY = {**BODY, "stream": True, "stream_options": {"include_usage": True}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(args: list[str], ready_url: str, env: dict[str, str]) -> Iterator[None]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(ready_url)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def stack(
    upstream_ms: float, workdir: Path, chunk_delay_ms: float = 0.0
) -> Iterator[tuple[str, str]]:
    """A simulator and a gateway in front of it; yields (direct_url, gateway_url)."""
    thrifty = str(Path(sys.executable).with_name("thrifty"))
    sim_port, gw_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("THRIFTY_CONFIG", None)
    sim = [thrifty, "sim", "--port", str(sim_port), "--latency-ms", str(upstream_ms)]
    sim += ["--chunk-delay-ms", str(chunk_delay_ms)]
    sim_url = f"http://127.0.0.1:{sim_port}"
    gateway = [
        thrifty,
        "serve",
        "--port",
        str(gw_port),
        "--openai-base-url",
        f"{sim_url}/v1",
        "--ledger",
        str(workdir / f"ledger-{upstream_ms:g}-{chunk_delay_ms:g}.db"),
    ]
    gw_url = f"http://127.0.0.1:{gw_port}"
    with process(sim, f"{sim_url}/health", env), process(gateway, f"{gw_url}/health", env):
        yield f"{sim_url}/v1/chat/completions", f"{gw_url}/v1/chat/completions"


async def one_call(session: aiohttp.ClientSession, url: str, stream: bool) -> tuple[float, float]:
    """Returns (time to first body byte, total time) in seconds."""
    started = time.perf_counter()
    async with session.post(url, json=STREAM_BODY if stream else BODY) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}: {await response.text()}")
        first: float | None = None
        async for _ in response.content.iter_any():
            if first is None:
                first = time.perf_counter() - started
        total = time.perf_counter() - started
    return (first if first is not None else total), total


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def sequential(direct: str, gateway: str, n: int, stream: bool) -> dict[str, Any]:
    results: dict[str, list[tuple[float, float]]] = {"direct": [], "gateway": []}
    connector = aiohttp.TCPConnector(limit=4)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(20):  # warm-up, both paths
            await one_call(session, direct, stream)
            await one_call(session, gateway, stream)
        for i in range(n):
            order = [("direct", direct), ("gateway", gateway)]
            if i % 2:
                order.reverse()
            for name, url in order:
                results[name].append(await one_call(session, url, stream))
    out: dict[str, Any] = {}
    for which, index in (("ttfb", 0), ("total", 1)):
        d = [r[index] * 1000 for r in results["direct"]]
        g = [r[index] * 1000 for r in results["gateway"]]
        out[which] = {
            "direct_p50_ms": statistics.median(d),
            "gateway_p50_ms": statistics.median(g),
            "direct_p90_ms": pct(d, 0.9),
            "gateway_p90_ms": pct(g, 0.9),
            "overhead_p50_ms": statistics.median(g) - statistics.median(d),
        }
    return out


async def load(url: str, concurrency: int, seconds: float, stream: bool) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    latencies: list[float] = []
    ttfbs: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(concurrency):  # open the connections first
            await one_call(session, url, stream)
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                try:
                    first, total = await one_call(session, url, stream)
                except (RuntimeError, aiohttp.ClientError):
                    errors += 1
                    continue
                ttfbs.append(first)
                latencies.append(total)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "req_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "ttfb_p50_ms": statistics.median(ttfbs) * 1000,
    }


async def under_load(
    direct: str, gateway: str, concurrency: int, seconds: float, rounds: int, stream: bool
) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"direct": [], "gateway": []}
    for r in range(rounds):
        order = [("direct", direct), ("gateway", gateway)]
        if r % 2:
            order.reverse()
        for name, url in order:
            runs[name].append(await load(url, concurrency, seconds, stream))
    d = statistics.median(x["req_per_s"] for x in runs["direct"])
    g = statistics.median(x["req_per_s"] for x in runs["gateway"])
    return {
        "direct_req_per_s": d,
        "gateway_req_per_s": g,
        "ratio": g / d,
        "direct_p50_ms": statistics.median(x["p50_ms"] for x in runs["direct"]),
        "gateway_p50_ms": statistics.median(x["p50_ms"] for x in runs["gateway"]),
        "direct_ttfb_p50_ms": statistics.median(x["ttfb_p50_ms"] for x in runs["direct"]),
        "gateway_ttfb_p50_ms": statistics.median(x["ttfb_p50_ms"] for x in runs["gateway"]),
        "errors": sum(x["errors"] for x in runs["direct"] + runs["gateway"]),
        "rounds": runs,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "args": vars(args),
    }
    with tempfile.TemporaryDirectory() as tmp:
        with stack(0, Path(tmp)) as (direct, gateway):
            report["sequential"] = {
                "non_stream": await sequential(direct, gateway, args.requests, stream=False),
                "stream": await sequential(direct, gateway, args.requests, stream=True),
            }
        with stack(args.upstream_ms, Path(tmp)) as (direct, gateway):
            report["load"] = {
                "non_stream": await under_load(
                    direct, gateway, args.concurrency, args.seconds, args.rounds, stream=False
                ),
                "stream": await under_load(
                    direct, gateway, args.concurrency, args.seconds, args.rounds, stream=True
                ),
            }
        if args.chunk_delay_ms:
            with stack(args.upstream_ms, Path(tmp), args.chunk_delay_ms) as (direct, gateway):
                report["load"]["stream_trickle"] = await under_load(
                    direct, gateway, args.concurrency, args.seconds, args.rounds, stream=True
                )
    return report


def summary(report: dict[str, Any]) -> str:
    lines = ["| measure | direct | via thrifty | overhead / ratio |", "|---|---|---|---|"]
    for kind in ("non_stream", "stream"):
        seq = report["sequential"][kind]
        for which in ("ttfb", "total") if kind == "stream" else ("total",):
            s = seq[which]
            lines.append(
                f"| sequential {kind} {which} p50 | {s['direct_p50_ms']:.2f} ms "
                f"| {s['gateway_p50_ms']:.2f} ms | +{s['overhead_p50_ms']:.2f} ms |"
            )
    for kind in report["load"]:
        ld = report["load"][kind]
        lines.append(
            f"| load c={report['args']['concurrency']} {kind} throughput "
            f"| {ld['direct_req_per_s']:.0f} req/s | {ld['gateway_req_per_s']:.0f} req/s "
            f"| {ld['ratio']:.3f}x |"
        )
        lines.append(
            f"| load {kind} p50 latency (ttfb) | {ld['direct_p50_ms']:.1f} ms "
            f"({ld['direct_ttfb_p50_ms']:.1f}) | {ld['gateway_p50_ms']:.1f} ms "
            f"({ld['gateway_ttfb_p50_ms']:.1f}) | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=500, help="sequential pairs")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--upstream-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=8.0, help="per load run")
    parser.add_argument("--rounds", type=int, default=2, help="load rounds per path")
    parser.add_argument(
        "--chunk-delay-ms",
        type=float,
        default=2.0,
        help="also run streams whose tokens trickle in at this interval (0: skip)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.seconds, args.rounds = 30, 1.0, 1
    report = asyncio.run(main_async(args))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str))
    print(summary(report))


if __name__ == "__main__":
    main()
