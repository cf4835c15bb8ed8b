"""Latency of the SQLite cache and counters on the event loop (not collected by pytest).

    .venv/bin/python tests/store/bench_sqlite.py [N]

Prints p50/p99/max in microseconds per operation, inline path, small values, plus a
hand-off to a worker thread for comparison (what every operation would cost if run in a
thread instead).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from thrifty.store import SqliteCache, SqliteCounters


def _line(name: str, samples: list[float]) -> str:
    us = sorted(s * 1e6 for s in samples)
    p99 = us[int(len(us) * 0.99) - 1]
    return f"{name:<22} p50 {statistics.median(us):8.1f}  p99 {p99:8.1f}  max {us[-1]:9.1f} µs"


async def _time(n: int, op: Callable[[int], Awaitable[object]]) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        await op(i)
        out.append(time.perf_counter() - start)
        await asyncio.sleep(0)  # a turn of the loop, as in a server: checkpoints run
    return out


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.db"
        value = b"x" * 2000
        async with SqliteCache(path, max_entries=n // 2) as cache:
            print(
                _line("cache.set (evicting)", await _time(n, lambda i: cache.set(f"k{i}", value)))
            )
            print(
                _line(
                    "cache.get hit", await _time(n, lambda i: cache.get(f"k{n - 1 - i % (n // 2)}"))
                )
            )
            print(_line("cache.get miss", await _time(n, lambda i: cache.get(f"absent{i}"))))
        async with SqliteCounters(path) as counters:
            print(
                _line(
                    "counters.incr",
                    await _time(n, lambda i: counters.incr(f"c{i % 100}", window_s=60)),
                )
            )
            print(_line("counters.get", await _time(n, lambda i: counters.get(f"c{i % 100}"))))
        print(_line("to_thread(no-op)", await _time(n, lambda i: asyncio.to_thread(int))))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
