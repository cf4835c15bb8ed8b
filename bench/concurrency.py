"""Many calls in flight: throughput through thrifty against straight to the upstream when
LLM-like latencies keep thousands of requests open at once.

Starts the simulator (answering after ``--upstream-ms``) and a gateway in front of it (the
same stack as gateway_overhead.py), then keeps ``--concurrency`` requests in flight for
``--seconds`` against each, alternating which goes first, and prints requests per second,
errors, the ratio, the gateway's resident memory and the gateway's own CPU time per request.

The CPU figure is the one that holds on a shared machine: the client, the simulator and
the gateway share the cores (and other work may too), so the throughput ratio moves with
the load on the machine, while the gateway's CPU time (utime + stime of its process, from
/proc) divided by the requests it booked (rows in its ledger, warm-up included) does not
move much.  At N requests per second the gateway needs N times that figure of one core.

The open-file limit of this process (inherited by the simulator and the gateway) is raised
to its hard limit: each call in flight holds two descriptors in the gateway and one in the
client and the simulator.

    .venv/bin/python bench/concurrency.py --concurrency 1000 --upstream-ms 1000

``--arrivals``: ``lockstep`` starts every worker at the same instant, so with a constant
upstream latency all requests arrive in one wave each cycle (a wave of N calls meets a
gateway that serves them one after another); ``spread`` spreads the workers' first
requests over one upstream latency, as independent users would arrive, and opens the
window once they are spread; ``both`` (the default) reports the two.

``--pin`` gives the gateway a core of its own, as it would have in a deployment: the load
generator and the simulator run on CPU 0 in both the direct and the gateway runs, the
gateway on CPU 1.  The ratio then says whether the gateway keeps up with what the same
rig reaches without it; unpinned, the three share both cores and the ratio also counts
the gateway's CPU taken from the rig.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
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


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def pid_listening(port: str) -> int:
    """The pid of the stack's process started with ``--port PORT``."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    for line in out.splitlines():
        pid, args = line.strip().split(None, 1)
        if f"--port {port} " in f"{args} " and "thrifty" in args:
            return int(pid)
    raise RuntimeError(f"no process with --port {port}")


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of process ``pid`` on ``cpus`` (threads keep the affinity they had)."""
    for thread in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(thread.name), cpus)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, clock ticks


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def booked(ledger: Path) -> int:
    with sqlite3.connect(ledger) as db:
        count: int = db.execute("SELECT count(*) FROM requests").fetchone()[0]
        return count


def failures(ledger: Path) -> list[tuple[int, str, int]]:
    with sqlite3.connect(ledger) as db:
        rows = db.execute(
            "SELECT status, substr(error, 1, 160), count(*) FROM requests "
            "WHERE status != 200 GROUP BY 1, 2"
        )
        return list(rows)


async def gateway_run(
    url: str, body: object, args: argparse.Namespace, pid: int, ledger: Path, stagger: float
) -> tuple[float, int, float]:
    """(req/s, errors, gateway CPU ms per booked request) of one load run."""
    rows, cpu = booked(ledger), cpu_seconds(pid)
    rate, errors = await run_load(url, body, args.concurrency, args.seconds, stagger=stagger)
    served = booked(ledger) - rows  # run_load returns once every call it made is answered
    for status, error, count in failures(ledger):
        print(f"gateway answered {count} x {status}: {error}", file=sys.stderr)
    return rate, errors, 1000 * (cpu_seconds(pid) - cpu) / max(served, 1)


async def main_async(args: argparse.Namespace) -> None:
    print(f"open-file limit: {raise_open_files()}")
    with tempfile.TemporaryDirectory() as tmp, stack(args.upstream_ms, Path(tmp)) as urls:
        direct, gateway = urls
        pid = pid_listening(gateway.split(":")[2].split("/")[0])
        if args.pin:
            rig = pid_listening(direct.split(":")[2].split("/")[0])  # the simulator
            for process, cpus in ((os.getpid(), {0}), (rig, {0}), (pid, {1})):
                pin(process, cpus)
            print("pinned: load generator and simulator on CPU 0, gateway on CPU 1")
        ledger = Path(tmp) / f"ledger-{args.upstream_ms:g}-0.db"
        print(
            "| mode | arrivals | concurrency | direct req/s | thrifty req/s | ratio | errors "
            "| gateway CPU per request | gateway RSS |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        arrivals = ["lockstep", "spread"] if args.arrivals == "both" else [args.arrivals]
        modes = {"both": (False, True), "stream": (True,), "plain": (False,)}[args.mode]
        for stream, arrival in ((s, a) for s in modes for a in arrivals):
            body = STREAM_BODY if stream else BODY
            stagger = args.upstream_ms / 1000 if arrival == "spread" else 0.0
            n, seconds = args.concurrency, args.seconds
            d1, de1 = await run_load(direct, body, n, seconds, stagger=stagger)
            g1, ge1, c1 = await gateway_run(gateway, body, args, pid, ledger, stagger)
            g2, ge2, c2 = await gateway_run(gateway, body, args, pid, ledger, stagger)
            d2, de2 = await run_load(direct, body, n, seconds, stagger=stagger)
            d, g = (d1 + d2) / 2, (g1 + g2) / 2
            print(
                f"| {'stream' if stream else 'non-stream'} | {arrival} | {n} | {d:.0f} | "
                f"{g:.0f} | {g / d:.2f}x | {de1 + de2} / {ge1 + ge2} | "
                f"{min(c1, c2):.2f}-{max(c1, c2):.2f} ms | {rss_mb(pid):.0f} MB |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--upstream-ms", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--arrivals", choices=["lockstep", "spread", "both"], default="both")
    parser.add_argument(
        "--mode",
        choices=["plain", "stream", "both"],
        default="both",
        help="non-streamed calls, streamed calls, or both (the default)",
    )
    parser.add_argument(
        "--pin", action="store_true", help="the gateway on CPU 1 alone, the rig on CPU 0"
    )
    uvloop.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
