"""The cost of the Responses API's owner records (thrifty.gateway.response_owners) on the
gateway's path, against a baseline measured in the same run.

    .venv/bin/python bench/response_owners.py [--records 20000] [--requests 300]

1. ``record``: one insert per stored response (``--records`` of them, the bound set to a
   quarter of that so eviction runs too), in µs per call.
2. ``check``: one primary-key read per side-route call or ``previous_response_id``.
3. Baseline: a whole non-streamed ``POST /v1/responses`` through the gateway to the bundled
   simulator on loopback (median of ``--requests``), which the record is added to.

CPU-bound and single-threaded: on a shared machine read the ratios, not the absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from thrifty.config import Settings
from thrifty.gateway import create_app
from thrifty.gateway.response_owners import ResponseOwners
from thrifty.runtime import Thrifty
from thrifty.serving import start_server


def time_store(folder: Path, records: int) -> tuple[float, float]:
    """(µs per record, µs per check)."""
    owners = ResponseOwners(folder / "owners.db", max_rows=max(1, records // 4))
    ids = [f"resp_{number:050x}" for number in range(records)]
    owners.owner_of("resp_warmup")  # opens the file
    started = time.perf_counter()
    for rid in ids:
        owners.record(rid, "tenant-a")
    record_us = (time.perf_counter() - started) / records * 1e6
    kept = ids[-(records // 5) :]
    started = time.perf_counter()
    for rid in kept:
        owners.may_use(rid, "tenant-a", keys_on=True)
    check_us = (time.perf_counter() - started) / len(kept) * 1e6
    owners.close()
    return record_us, check_us


async def time_request(folder: Path, requests: int) -> float:
    """Median µs of a non-streamed POST /v1/responses through the gateway."""
    settings = Settings(
        ledger={"path": str(folder / "ledger.db")},
        simulator={"port": 0, "latency_ms": 0},
        simulate=True,
    )
    thrifty = Thrifty(settings, environ={})
    app = create_app(thrifty)
    server = await start_server(app)
    body = {"model": "gpt-4o-mini", "input": "Say hello", "store": False}
    took: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            for number in range(requests + 20):
                started = time.perf_counter()
                answer = await http.post("/v1/responses", json=body)
                if number >= 20:  # warm-up excluded
                    took.append(time.perf_counter() - started)
                answer.raise_for_status()
    finally:
        await server.stop()
        app.response_owners.close()
    return statistics.median(took) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        record_us, check_us = time_store(Path(folder), args.records)
        request_us = asyncio.run(time_request(Path(folder), args.requests))
    print(f"baseline: POST /v1/responses through the gateway, median {request_us:,.0f} µs")
    for name, value in (("record (insert)", record_us), ("check (lookup)", check_us)):
        print(f"{name}: {value:,.1f} µs per call = {value / request_us:.2%} of the baseline")


if __name__ == "__main__":
    main()
