"""Ledger write benchmark.

    .venv/bin/python bench/ledger_store.py [rows] [writers]

Prints rows/s committed and the median / p99 time one ``record()`` takes while
``writers`` tasks record concurrently, each awaiting its own row.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from thrifty.ledger import LedgerRow, LedgerStore, read_rows
from thrifty.types import Usage, new_request_id


def _row(i: int) -> LedgerRow:
    return LedgerRow(
        request_id=new_request_id(),
        ts=time.time(),
        tenant="bench",
        task="summarise",
        dialect="openai",
        endpoint="/v1/chat/completions",
        requested_model="gpt-4o",
        model="gpt-4o-mini",
        provider="openai",
        stream=False,
        usage=Usage(input_tokens=1000 + i % 7, output_tokens=200),
        cost_usd=Decimal("0.000123456789"),
        baseline_usd=Decimal("0.0025"),
        savings={"routing": Decimal("0.002376543211")},
        price_source="genai-prices",
        latency_ms=12.5,
        status=200,
    )


async def main(total: int, writers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store = LedgerStore(path)
        await store.open()
        latencies: list[float] = []

        async def writer(n: int) -> None:
            for i in range(n):
                row = _row(i)
                started = time.perf_counter()
                await store.record(row)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(writer(total // writers) for _ in range(writers)))
        elapsed = time.perf_counter() - started
        await store.close()
        committed = len(read_rows(path))
    latencies.sort()
    print(
        f"{committed} rows, {writers} writers: {committed / elapsed:,.0f} rows/s committed; "
        f"record() median {statistics.median(latencies) * 1e3:.3f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.3f} ms"
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(args[0] if args else 64_000, args[1] if len(args) > 1 else 32))
