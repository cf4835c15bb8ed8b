"""Many calls in flight: throughput through thrifty against straight to the upstream when
LLM-like latencies keep thousands of requests open at once.

Starts the simulator (answering after ``--upstream-ms``) and a gateway in front of it (the
same stack as gateway_overhead.py), then keeps ``--concurrency`` requests in flight for
``--seconds`` against each, alternating which goes first, and prints requests per second,
errors, the ratio and the gateway's resident memory.

    .venv/bin/python bench/concurrency.py --concurrency 1000 --upstream-ms 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import run_load
from gateway_overhead import stack

BODY = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "hello"}],
    "max_tokens": 20,
}
STREAM_BODY = {**BODY, "stream": True}


def rss_mb(pid_hint: str) -> str:
    import subprocess

    out = subprocess.run(["ps", "-eo", "rss=,args="], capture_output=True, text=True).stdout
    sizes = [int(line.split()[0]) for line in out.splitlines() if pid_hint in line]
    return f"{max(sizes) / 1024:.0f} MB" if sizes else "?"


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, stack(args.upstream_ms, Path(tmp)) as urls:
        direct, gateway = urls
        print(
            "| mode | concurrency | direct req/s | thrifty req/s | ratio | errors | gateway RSS |"
        )
        print("|---|---|---|---|---|---|---|")
        for stream in (False, True):
            body = STREAM_BODY if stream else BODY
            d1, de1 = await run_load(direct, body, args.concurrency, args.seconds)
            g1, ge1 = await run_load(gateway, body, args.concurrency, args.seconds)
            g2, ge2 = await run_load(gateway, body, args.concurrency, args.seconds)
            d2, de2 = await run_load(direct, body, args.concurrency, args.seconds)
            d, g = (d1 + d2) / 2, (g1 + g2) / 2
            print(
                f"| {'stream' if stream else 'non-stream'} | {args.concurrency} | {d:.0f} | "
                f"{g:.0f} | {g / d:.2f}x | {de1 + de2} / {ge1 + ge2} | {rss_mb(' serve ')} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--upstream-ms", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    uvloop.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
