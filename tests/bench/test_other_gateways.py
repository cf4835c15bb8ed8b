"""The pure parts of bench/other_gateways.py: argument checks, statistics, the table, the
competitors' configuration.  The benchmark itself never runs in the test suite."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bench import _gateways as gw
from bench._report import render_table
from bench._traffic import (
    BadAnswer,
    Route,
    cpu_seconds,
    latency_summary,
    percentile,
    sequential,
    sequential_report,
)
from bench.other_gateways import parse_args


def test_defaults_measure_all_three_at_32_in_flight_with_a_50_ms_upstream() -> None:
    args = parse_args([])
    assert args.gateways == ["thrifty", "litellm", "portkey"]
    assert (args.concurrency, args.upstream_ms) == (32, 50.0)
    assert args.cache_dir == Path.home() / ".cache" / "thrifty-bench"
    assert (args.litellm_version, args.portkey_version) == (
        gw.LITELLM_VERSION,
        gw.PORTKEY_VERSION,
    )


def test_gateways_are_chosen_by_name_and_quick_shrinks_the_run() -> None:
    args = parse_args(["--gateways", " portkey,thrifty ", "--quick", "--requests", "999"])
    assert args.gateways == ["portkey", "thrifty"]
    assert (args.requests, args.seconds, args.rounds) == (40, 2.0, 1)


@pytest.mark.parametrize(
    "argv",
    [
        ["--gateways", "thrifty,kong"],
        ["--requests", "0"],
        ["--concurrency", "0"],
        ["--seconds", "0"],
        ["--upstream-ms", "-1"],
        ["--netns", "maybe"],
    ],
)
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_added_latency_is_gateway_minus_direct_at_each_percentile() -> None:
    direct = [1.0] * 19 + [3.0]  # p50 1, p95 1 (19th of 20), p100 3
    gateway = [2.5] * 18 + [4.0, 9.0]  # p50 2.5, p95 4
    summary = latency_summary(direct, gateway)
    assert summary["added_p50_ms"] == pytest.approx(1.5)
    assert summary["added_p95_ms"] == pytest.approx(3.0)
    assert (summary["direct_p50_ms"], summary["gateway_p95_ms"]) == (1.0, 4.0)


def test_sequential_report_uses_total_time_plain_and_first_byte_streamed() -> None:
    results = {
        "direct": [(0.001, 0.002)] * 4,
        "thrifty": [(0.003, 0.007)] * 4,
    }
    cpu = {"direct": 0.0, "thrifty": 1.5}
    plain = sequential_report(results, cpu, "direct", stream=False)
    streamed = sequential_report(results, cpu, "direct", stream=True)
    assert list(plain) == ["thrifty"]  # the baseline is not a gateway
    assert plain["thrifty"]["added_p50_ms"] == pytest.approx(5.0)
    assert plain["thrifty"]["cpu_ms_per_call"] == 1.5
    assert streamed["thrifty"]["added_p50_ms"] == pytest.approx(2.0)


def _summary(added: float) -> dict[str, float]:
    return {
        "direct_p50_ms": 0.5,
        "direct_p95_ms": 0.9,
        "gateway_p50_ms": 0.5 + added,
        "gateway_p95_ms": 0.9 + added * 2,
        "added_p50_ms": added,
        "added_p95_ms": added * 2,
    }


def test_the_table_names_every_gateway_and_why_one_was_not_measured() -> None:
    report = {
        "date_utc": "2026-11-30 09:00",
        "machine": {"cpus": 2, "load_average_1min": [3.25, 4.0]},
        "network": "own network namespace, loopback only",
        "versions": {"thrifty": "0.1.0 (abc1234)", "litellm": "1.108.6", "node": "v20"},
        "args": {
            "gateways": ["thrifty", "litellm", "portkey"],
            "concurrency": 32,
            "upstream_ms": 50.0,
            "requests": 300,
            "rounds": 2,
            "seconds": 8.0,
        },
        "sequential": {
            "plain": {"thrifty": _summary(1.0), "litellm": _summary(15.0)},
            "stream": {"thrifty": _summary(1.25), "litellm": _summary(20.0)},
        },
        "load": {
            kind: {
                "direct": {"req_per_s": 600.0, "ratio": 1.0, "errors": 0, "cpu_ms_per_call": 0},
                "thrifty": {"req_per_s": 540.0, "ratio": 0.9, "errors": 0, "cpu_ms_per_call": 0.7},
                "litellm": {
                    "req_per_s": 80.0,
                    "ratio": 80 / 600,
                    "errors": 3,
                    "cpu_ms_per_call": 9,
                },
            }
            for kind in ("plain", "stream")
        },
        "unavailable": {"portkey": "portkey: Portkey's gateway needs node and npm"},
    }
    table = render_table(report).splitlines()
    assert table[0].count("|") == 9
    assert "c=32, 50 ms upstream" in table[0]
    direct, thrifty, litellm, portkey = table[2:6]
    assert direct.startswith("| direct (baseline, absolute) |")
    assert "0.50 / 0.90 ms" in direct
    assert "600 req/s" in direct
    assert thrifty == (
        "| thrifty | 0.1.0 (abc1234) | +1.00 / +2.00 ms | +1.25 / +2.50 ms "
        "| 0.90x (540 req/s) | 0.90x (540 req/s) | 0.70 / 0.70 ms | 0 |"
    )
    assert "| 0.13x (80 req/s) | 9.00 / 9.00 ms |" in litellm
    assert litellm.endswith("| 6 |")  # errors of both load modes
    assert portkey.count("not measured") == 5
    assert "Not measured: portkey: Portkey's gateway needs node and npm" in table
    assert any(
        "load average (1 min) 3.2 at the start, 4.0 at the end; own network namespace" in line
        for line in table
    )


def test_litellm_gets_one_model_pointing_at_the_simulator_and_nothing_else() -> None:
    config = json.loads(gw.litellm_config("http://127.0.0.1:9/v1"))
    (model,) = config["model_list"]
    assert model["model_name"] == gw.MODEL
    assert model["litellm_params"]["api_base"] == "http://127.0.0.1:9/v1"
    assert model["litellm_params"]["api_key"] == gw.DUMMY_KEY
    assert config["litellm_settings"]["telemetry"] is False
    assert config["litellm_settings"]["success_callback"] == []
    assert "database_url" not in config["general_settings"]


def test_portkey_is_told_its_upstream_in_headers(tmp_path: Path) -> None:
    installed = gw.Installed("portkey", "1.15.2", tmp_path / "start-server.js")
    launch = gw.portkey_launch(installed, 8111, "http://127.0.0.1:9/v1")
    assert launch.headers["x-portkey-provider"] == "openai"
    assert launch.headers["x-portkey-custom-host"] == "http://127.0.0.1:9/v1"
    assert "--port=8111" in launch.argv
    assert "--headless" in launch.argv


def test_cpu_time_counts_this_process_and_nothing_without_a_pid() -> None:
    spent = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn 50 ms of CPU
        pass
    assert cpu_seconds(os.getpid()) - spent >= 0.03  # clock ticks are 10 ms
    assert cpu_seconds(None) == 0.0


def test_child_processes_get_no_provider_keys_and_no_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("THRIFTY_CONFIG", "/somewhere.toml")
    env = gw.clean_env()
    assert "OPENAI_API_KEY" not in env
    assert "HTTPS_PROXY" not in env
    assert "THRIFTY_CONFIG" not in env
    assert env["NO_PROXY"] == "127.0.0.1,localhost"


async def _broken(request: web.Request) -> web.Response:
    return web.Response(status=500, text="down")


async def _serve(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/ok", handler)
    app.router.add_post("/broken", _broken)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def test_a_gateway_that_fails_is_dropped_and_the_others_still_measured() -> None:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"system_fingerprint": "fp_sim0000001"})

    runner, base = await _serve(ok)
    try:
        routes = [Route("direct", f"{base}/ok"), Route("broken", f"{base}/broken")]
        results, cpu_ms, failed = await sequential(routes, 3, stream=False)
    finally:
        await runner.cleanup()
    assert failed == {"broken": "broken: HTTP 500"}
    assert list(results) == ["direct"]
    assert len(results["direct"]) == 3
    assert cpu_ms == {"direct": 0.0}  # no process to measure on the direct route


async def test_the_direct_route_failing_stops_the_run() -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({})

    runner, base = await _serve(ok)
    try:
        with pytest.raises(BadAnswer):
            await sequential([Route("direct", f"{base}/broken")], 1, stream=False)
    finally:
        await runner.cleanup()
