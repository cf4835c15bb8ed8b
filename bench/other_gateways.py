"""thrifty, LiteLLM's proxy and Portkey's gateway side by side, against the same upstream.

One command starts the bundled simulator (OpenAI wire format, loopback), puts each gateway
in front of it, checks that a plain and a streamed call through each one really reach the
simulator (its fingerprint in the answer, its request counter), and measures, with the
direct path to the simulator as the baseline in the same run:

* sequential added latency, p50 and p95: plain calls (total time) and streamed calls (time
  to first byte), upstream answering at once; calls go round robin over all paths;
* throughput against direct with ``--concurrency`` calls in flight and the upstream
  answering after ``--upstream-ms``, plain and streamed, in rounds rotating the order.

LiteLLM and Portkey are installed outside the repository (``--cache-dir``, see
bench/_gateways.py) at pinned versions, printed with the results.  When run as root with
``unshare`` available, everything runs in a fresh network namespace that has only a
loopback interface, so no gateway can send anything off the machine (``--netns off`` to
skip).  A gateway that cannot be installed or started is reported with the reason; the
others are still measured.

    .venv/bin/python bench/other_gateways.py                 # about 6 minutes
    .venv/bin/python bench/other_gateways.py --quick         # smoke run, about 2 minutes
    .venv/bin/python bench/other_gateways.py --json          # JSON instead of the table
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _gateways as gw
from _report import render_table
from _traffic import BadAnswer, Route, sequential, sequential_report, under_load, verify

GATEWAYS = ("thrifty", "litellm", "portkey")
IN_NETNS_MARKER = "BENCH_IN_NETNS"
READY_TIMEOUT_S = 120.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--gateways", default=",".join(GATEWAYS), help="comma-separated")
    parser.add_argument("--requests", type=int, default=300, help="sequential calls per path")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--upstream-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=8.0, help="per load run")
    parser.add_argument("--rounds", type=int, default=2, help="load rounds per path")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path.home() / ".cache" / "thrifty-bench",
        help="where the competitors' environments live (created on first use)",
    )
    parser.add_argument("--litellm-version", default=gw.LITELLM_VERSION)
    parser.add_argument("--portkey-version", default=gw.PORTKEY_VERSION)
    parser.add_argument("--no-install", action="store_true", help="use installed ones only")
    parser.add_argument("--netns", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    parser.add_argument("--json", action="store_true", help="print JSON, not the table")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    args.gateways = [name.strip() for name in args.gateways.split(",") if name.strip()]
    unknown = sorted(set(args.gateways) - set(GATEWAYS))
    if unknown:
        parser.error(f"unknown gateways: {', '.join(unknown)} (known: {', '.join(GATEWAYS)})")
    if args.quick:
        args.requests, args.seconds, args.rounds = 40, 2.0, 1
    for name in ("requests", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.seconds <= 0 or args.upstream_ms < 0:
        parser.error("--seconds must be positive and --upstream-ms not negative")
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(launch: gw.Launch, base_url: str, workdir: Path) -> Iterator[int]:
    """The gateway process, up and answering ``ready_path`` (yields its pid); its output
    goes to a log file whose tail is the reason given when it does not come up."""
    for file, text in launch.files.items():
        file.write_text(text)
    log_path = workdir / f"{launch.name}-{free_port()}.log"
    with log_path.open("wb") as log:
        try:
            proc = subprocess.Popen(
                launch.argv, env=launch.env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            raise gw.Unavailable(f"{launch.name} did not start: {exc}") from exc
        try:
            _wait_ready(proc, base_url + launch.ready_path, launch.name, log_path)
            yield proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, name: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = gw.log_tail(log_path.read_text(errors="replace"))
            raise gw.Unavailable(f"{name} exited with code {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    tail = gw.log_tail(log_path.read_text(errors="replace"))
    raise gw.Unavailable(f"{name} not ready at {url} after {READY_TIMEOUT_S:.0f} s: {tail}")


def launch_for(
    name: str, installed: dict[str, gw.Installed], port: int, upstream: str, workdir: Path
) -> gw.Launch:
    if name == "thrifty":
        return gw.thrifty_launch(port, upstream, workdir)
    if name == "litellm":
        return gw.litellm_launch(installed[name], port, upstream, workdir)
    return gw.portkey_launch(installed[name], port, upstream)


async def reaches_simulator(route: Route, sim_url: str) -> None:
    """A plain and a streamed call through ``route`` answer with the simulator's
    fingerprint, and the simulator counted exactly those two calls."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async with session.delete(f"{sim_url}/_sim/stats") as reset:
            reset.raise_for_status()
        await verify(session, route)
        async with session.get(f"{sim_url}/_sim/stats") as got:
            stats = await got.json()
    if stats["requests"] != 2:
        raise BadAnswer(f"the simulator counted {stats['requests']} calls for 2 sent")


async def phase(
    args: argparse.Namespace,
    upstream_ms: float,
    installed: dict[str, gw.Installed],
    unavailable: dict[str, str],
    workdir: Path,
) -> dict[str, Any]:
    """A simulator answering after ``upstream_ms``, every available gateway in front of it,
    and the measurements of this phase."""
    with ExitStack() as stack:
        sim_port = free_port()
        sim_url = f"http://127.0.0.1:{sim_port}"
        thrifty = str(Path(sys.executable).with_name("thrifty"))
        sim = gw.Launch(
            name="simulator",
            argv=[thrifty, "sim", "--port", str(sim_port), "--latency-ms", f"{upstream_ms:g}"],
            env=gw.clean_env(),
            ready_path="/health",
            chat_url=f"{sim_url}/v1/chat/completions",
        )
        stack.enter_context(running(sim, sim_url, workdir))
        routes = [Route("direct", sim.chat_url)]
        for name in args.gateways:
            if name in unavailable:
                continue
            port = free_port()
            gateway = ExitStack()  # stopped at once if it fails its check
            try:
                launch = launch_for(name, installed, port, f"{sim_url}/v1", workdir)
                pid = gateway.enter_context(running(launch, f"http://127.0.0.1:{port}", workdir))
                route = Route(name, launch.chat_url, launch.headers, pid)
                await reaches_simulator(route, sim_url)
            except (gw.Unavailable, BadAnswer, aiohttp.ClientError) as exc:
                gateway.close()
                unavailable[name] = f"{name}: {exc}"
                continue
            stack.enter_context(gateway)
            routes.append(route)
        if upstream_ms == 0:
            measured: dict[str, Any] = {}
            for kind, stream in (("plain", False), ("stream", True)):
                results, cpu_ms, failed = await sequential(routes, args.requests, stream)
                for name, reason in failed.items():
                    unavailable[name] = f"{name}: sequential {kind} calls failed: {reason}"
                measured[kind] = sequential_report(results, cpu_ms, "direct", stream)
            return measured
        return {
            kind: await under_load(
                routes, "direct", args.concurrency, args.seconds, args.rounds, stream
            )
            for kind, stream in (("plain", False), ("stream", True))
        }


def install_all(args: argparse.Namespace) -> tuple[dict[str, gw.Installed], dict[str, str]]:
    installed: dict[str, gw.Installed] = {}
    unavailable: dict[str, str] = {}
    cache_dir = args.cache_dir.expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    ensure = {
        "litellm": lambda: gw.ensure_litellm(cache_dir, args.litellm_version, not args.no_install),
        "portkey": lambda: gw.ensure_portkey(cache_dir, args.portkey_version, not args.no_install),
    }
    for name in args.gateways:
        if name in ensure:
            try:
                installed[name] = ensure[name]()
            except gw.Unavailable as exc:
                unavailable[name] = f"{name}: {exc}"
    return installed, unavailable


def versions(installed: dict[str, gw.Installed]) -> dict[str, str]:
    repo = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    found = {"thrifty": f"{importlib.metadata.version('thrifty')} ({commit or 'no git'})"}
    found.update({name: item.version for name, item in installed.items()})
    found["node"] = gw.node_version()
    found["python"] = platform.python_version()
    return found


async def measure(args: argparse.Namespace, network: str) -> dict[str, Any]:
    installed, unavailable = install_all(args)
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="other-gateways-") as tmp:
        workdir = args.logs or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        sequential_part = await phase(args, 0.0, installed, unavailable, workdir)
        load_part = await phase(args, args.upstream_ms, installed, unavailable, workdir)
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1min": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
        },
        "network": network,
        "versions": versions(installed),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "sequential": sequential_part,
        "load": load_part,
        "unavailable": unavailable,
    }


def netns_wanted(choice: str) -> bool:
    possible = os.geteuid() == 0 and bool(shutil.which("unshare")) and bool(shutil.which("ip"))
    if choice == "on" and not possible:
        raise SystemExit("--netns on needs root with unshare and ip on PATH")
    return choice == "on" or (choice == "auto" and possible)


def reexec_in_netns(argv: list[str]) -> None:
    """Run this script again inside a new network namespace with only loopback up."""
    env = {**os.environ, IN_NETNS_MARKER: "1"}
    command = 'ip link set lo up && exec "$0" "$@"'
    script = str(Path(__file__).resolve())
    os.execvpe(
        "unshare",
        ["unshare", "--net", "--", "sh", "-c", command, sys.executable, script, *argv],
        env,
    )


def main(argv: list[str] | None = None) -> None:
    raw = sys.argv[1:] if argv is None else argv
    args = parse_args(raw)
    if os.environ.get(IN_NETNS_MARKER) == "1":
        network = "own network namespace, loopback only"
    elif netns_wanted(args.netns):
        install_all(args)  # needs the registries, so before leaving the host network
        reexec_in_netns([*raw, "--no-install"])
        return
    else:
        network = "host network; every address used is on loopback"
    report = asyncio.run(measure(args, network))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2) if args.json else render_table(report))


if __name__ == "__main__":
    main()
