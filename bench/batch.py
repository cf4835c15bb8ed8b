"""Batch API benchmark: the two targets of docs/batch.md, each against a baseline measured
in the same run.

    .venv/bin/python bench/batch.py [--estimate-lines 100000] [--items 10000]
                                    [--interactive 1000] [--out results.json]

1. ``estimate``: ``thrifty batch estimate``'s work (read, check every line, price it at
   both rates) on a file of ``--estimate-lines`` OpenAI and Anthropic lines (target under
   10 s).  Baseline: reading the file and parsing each line's JSON, nothing else (the
   floor any check must pay).
2. ``end to end``: ``--items`` requests submitted through the library, grouped into
   provider jobs, completed by the simulator (accelerated: a job takes 60 simulated
   seconds, run 1,000 times faster), collected and booked in the ledger (target under
   60 s).  Baseline: ``--interactive`` requests of the same kind sent 64 at a time through
   ``Thrifty.chat`` to the same simulator, per item, so the ratio is what a batch item
   costs in wall time against an interactive call.

Wall and CPU seconds are both reported: the CPU time of this process (the simulator runs
in it too) is the figure to read on a loaded machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from thrifty.batch import Batches, estimate
from thrifty.batch.lines import parse_lines
from thrifty.config import Settings
from thrifty.pricing import PriceBook
from thrifty.runtime import Thrifty
from thrifty.sim import SimConfig, SimServer

PROMPT = "Label the sentiment of review number {n:08d}: the product arrived late but works."


def line(n: int) -> bytes:
    text = PROMPT.format(n=n)
    if n % 2:
        params = {
            "model": "claude-haiku-4-5",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": text}],
        }
        return orjson.dumps({"custom_id": f"r{n}", "params": params})
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    wire = {"custom_id": f"r{n}", "method": "POST", "url": "/v1/chat/completions", "body": body}
    return orjson.dumps(wire)


def bench_estimate(lines: int, tmp: Path) -> dict[str, Any]:
    path = tmp / "estimate.jsonl"
    path.write_bytes(b"\n".join(line(n) for n in range(lines)) + b"\n")

    def provider_of(model: str) -> tuple[str, Any]:
        return ("anthropic", "anthropic") if model.startswith("claude") else ("openai", "openai")

    def price_provider(model: str) -> str:
        return provider_of(model)[0]

    started = time.perf_counter()
    raw = path.read_bytes().splitlines()
    parsed_json = [orjson.loads(x) for x in raw]
    floor = time.perf_counter() - started
    assert len(parsed_json) == lines
    prices = PriceBook()
    started, cpu = time.perf_counter(), time.process_time()
    parsed = parse_lines(path.read_bytes().splitlines(), provider_of)
    found = estimate(parsed, prices, price_provider)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert found.lines == lines and not found.bad and not found.unpriced
    return {
        "lines": lines,
        "estimate_s": round(took, 3),
        "estimate_cpu_s": round(cpu, 3),
        "baseline_parse_s": round(floor, 3),
        "ratio": round(took / floor, 1),
        "interactive_usd": str(found.interactive_usd),
        "batch_usd": str(found.batch_usd),
    }


async def bench_end_to_end(items: int, interactive: int, tmp: Path) -> dict[str, Any]:
    config = SimConfig(batch_duration_s=60.0, batch_time_scale=1000.0)
    async with SimServer(config) as sim:
        settings = Settings(
            ledger={"path": str(tmp / "ledger.db")},
            openai_base_url=sim.openai_base_url,
            anthropic_base_url=sim.base_url,
            batch={"poll_interval_s": 0.05},
        )
        async with Thrifty(settings, environ={}) as thrifty, Batches.of(thrifty) as batches:
            lines = [line(n) for n in range(items)]
            started, cpu = time.perf_counter(), time.process_time()
            submitted = await batches.submit(lines)
            queued = time.perf_counter() - started
            assert submitted.handle is not None
            done = await submitted.handle.wait(0.05)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
            rows = len(thrifty.ledger.rows())
            assert all(i.state == "succeeded" for i in done) and rows == items

            bodies = [orjson.loads(line(n + items)) for n in range(interactive)]
            gate = asyncio.Semaphore(64)

            async def call(wire: dict[str, Any]) -> None:
                async with gate:
                    if "params" in wire:
                        await thrifty.chat(wire["params"], dialect="anthropic")
                    else:
                        await thrifty.chat(wire["body"])

            started, direct_cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(call(w) for w in bodies))
            direct = time.perf_counter() - started
            direct_cpu = time.process_time() - direct_cpu
    per_batch_ms = took / items * 1000
    per_call_ms = direct / interactive * 1000
    return {
        "items": items,
        "end_to_end_s": round(took, 2),
        "end_to_end_cpu_s": round(cpu, 2),
        "submit_s": round(queued, 2),
        "ledger_rows": rows,
        "per_item_ms": round(per_batch_ms, 3),
        "baseline_interactive_calls": interactive,
        "baseline_per_call_ms": round(per_call_ms, 3),
        "ratio": round(per_batch_ms / per_call_ms, 2),
        "per_item_cpu_ms": round(cpu / items * 1000, 3),
        "baseline_per_call_cpu_ms": round(direct_cpu / interactive * 1000, 3),
        "cpu_ratio": round((cpu / items) / (direct_cpu / interactive), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--estimate-lines", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--interactive", type=int, default=1000)
    parser.add_argument("--out")
    parser.add_argument("--profile", help="write a cProfile of the end-to-end run here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, Any] = {"estimate": bench_estimate(args.estimate_lines, Path(tmp))}
        run = bench_end_to_end(args.items, args.interactive, Path(tmp))
        if args.profile:
            import cProfile

            with cProfile.Profile() as profile:
                results["end_to_end"] = asyncio.run(run)
            profile.dump_stats(args.profile)
        else:
            results["end_to_end"] = asyncio.run(run)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
