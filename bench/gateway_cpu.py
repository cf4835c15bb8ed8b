"""The gateway's CPU per booked call at 1,000 in flight (1 s upstream, lock-step arrivals,
the gateway pinned alone on CPU 1), for two source trees alternated: the A/B figure of a
change when the machine is too busy for the throughput ratio to mean anything.

Each run starts the simulator and a gateway from one tree (``PYTHONPATH=<tree>/src``),
warms 3 s, then keeps 1,000 calls in flight for ``--seconds`` and prints the gateway's
process CPU (utime + stime) over the calls its ledger booked in that window.  No direct
runs: see bench/concurrency.py for the ratio.

    git archive <old commit> src | tar -x -C /tmp/before
    git archive HEAD src | tar -x -C /tmp/after
    .venv/bin/python bench/gateway_cpu.py /tmp/before /tmp/after --mode stream --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import run_load
from concurrency import (
    BODY,
    STREAM_BODY,
    booked,
    cpu_seconds,
    pid_listening,
    pin,
    raise_open_files,
)
from gateway_overhead import stack


async def one_run(tree: str, body: object, seconds: float) -> str:
    os.environ["PYTHONPATH"] = str(Path(tree) / "src")  # inherited by the stack's processes
    with tempfile.TemporaryDirectory() as tmp, stack(1000, Path(tmp)) as (direct, gateway):
        pid = pid_listening(gateway.split(":")[2].split("/")[0])
        rig = pid_listening(direct.split(":")[2].split("/")[0])
        for process, cpus in ((os.getpid(), {0}), (rig, {0}), (pid, {1})):
            pin(process, cpus)
        ledger = Path(tmp) / "ledger-1000-0.db"
        await run_load(gateway, body, 1000, 3.0)  # warm
        rows, cpu = booked(ledger), cpu_seconds(pid)
        rate, errors = await run_load(gateway, body, 1000, seconds)
        served = max(booked(ledger) - rows, 1)
        per_call = 1000 * (cpu_seconds(pid) - cpu) / served
        return f"{rate:.0f} req/s, {errors} errors, {per_call:.3f} ms CPU per booked call"


async def main_async(args: argparse.Namespace) -> None:
    raise_open_files()
    body = STREAM_BODY if args.mode == "stream" else BODY
    for round_ in range(1, args.rounds + 1):
        for tree in args.trees:
            result = await one_run(tree, body, args.seconds)
            load = os.getloadavg()[0]
            print(f"round {round_} {tree}: {result} (load {load:.1f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("trees", nargs="+", help="source trees, each holding a src/ folder")
    parser.add_argument("--mode", choices=["plain", "stream"], default="stream")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    uvloop.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
