"""The Markdown table bench/other_gateways.py prints from its JSON report."""

from __future__ import annotations

from typing import Any

_NOT_MEASURED = "not measured"


def _added(summary: dict[str, float] | None) -> str:
    if summary is None:
        return _NOT_MEASURED
    return f"{summary['added_p50_ms']:+.2f} / {summary['added_p95_ms']:+.2f} ms"


def _ratio(load: dict[str, float] | None) -> str:
    if load is None:
        return _NOT_MEASURED
    return f"{load['ratio']:.2f}x ({load['req_per_s']:.0f} req/s)"


def _cpu(load: dict[str, Any], name: str) -> str:
    plain, stream = load.get("plain", {}).get(name), load.get("stream", {}).get(name)
    if plain is None or stream is None:
        return _NOT_MEASURED
    return f"{plain['cpu_ms_per_call']:.2f} / {stream['cpu_ms_per_call']:.2f} ms"


def _errors(report: dict[str, Any], name: str) -> str:
    counts = [int(part[name]["errors"]) for part in report["load"].values() if name in part]
    return str(sum(counts)) if counts else "-"


def render_table(report: dict[str, Any]) -> str:
    """One row per gateway (added latency p50 / p95, throughput against direct, the
    gateway's own CPU time per call), the
    direct baseline first, then versions, setup and why any gateway was not measured."""
    args = report["args"]
    seq, load = report["sequential"], report["load"]
    concurrency, upstream = args["concurrency"], args["upstream_ms"]
    lines = [
        "| gateway | version | added latency p50 / p95, plain | added p50 / p95, stream "
        f"first byte | throughput vs direct, c={concurrency}, {upstream:g} ms upstream, plain "
        "| same, stream | gateway CPU per call under load, plain / stream | load errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    baseline = next(iter(seq.get("plain", {}).values()), None)
    stream_baseline = next(iter(seq.get("stream", {}).values()), None)
    if baseline is not None and stream_baseline is not None:
        lines.append(
            f"| direct (baseline, absolute) | simulator | {baseline['direct_p50_ms']:.2f} / "
            f"{baseline['direct_p95_ms']:.2f} ms | {stream_baseline['direct_p50_ms']:.2f} / "
            f"{stream_baseline['direct_p95_ms']:.2f} ms | {_ratio(load['plain'].get('direct'))} "
            f"| {_ratio(load['stream'].get('direct'))} | - | {_errors(report, 'direct')} |"
        )
    for name in args["gateways"]:
        version = report["versions"].get(name, "?")
        lines.append(
            f"| {name} | {version} | {_added(seq.get('plain', {}).get(name))} "
            f"| {_added(seq.get('stream', {}).get(name))} "
            f"| {_ratio(load.get('plain', {}).get(name))} "
            f"| {_ratio(load.get('stream', {}).get(name))} | {_cpu(load, name)} "
            f"| {_errors(report, name)} |"
        )
    machine = report["machine"]
    start_load, end_load = machine.get("load_average_1min", (float("nan"), float("nan")))
    versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items())
    lines += [
        "",
        f"{report['date_utc']} UTC; {machine['cpus']} CPUs, load average (1 min) "
        f"{start_load:.1f} at the start, {end_load:.1f} at the end; {report['network']}.",
        f"Versions: {versions}.",
        f"Sequential: {args['requests']} calls per path per mode, round robin. Load: "
        f"{args['rounds']} round(s) of {args['seconds']:g} s per path and mode.",
    ]
    lines += [f"Not measured: {reason}" for reason in report["unavailable"].values()]
    return "\n".join(lines)
