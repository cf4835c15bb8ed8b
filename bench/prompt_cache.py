"""Prompt-cache planner benchmark: billed input dollars with and without planning, and the
planner's overhead per request, measured in the same run.

    .venv/bin/python bench/prompt_cache.py [--seed N] [--overhead-requests N] [--out FILE]

**Dollars.** A support-bot workload: a ~3,000-token system prompt and 6 tools (~800 tokens),
each request with its own short question.  Requests arrive on a simulated clock (the
simulator's cache expiry and the planner read the same clock, so hours pass in seconds),
in three patterns:

* ``busy``: a request every 40 s on average (Poisson), for 2 hours;
* ``periodic``: every 15-25 minutes (a scheduled agent), for 12 hours;
* ``rare``: every 90-150 minutes, for 48 hours.

Anthropic (claude-sonnet-4-6), strategies: ``none`` (no ``cache_control``: what the app sent),
``planner`` (thrifty's stage, default settings), ``planner-5m`` (the planner with
``allow_1h = false``), and two static choices an app might hard-code: ``always-5m`` and
``always-1h`` (one breakpoint on the system prompt, every request).

OpenAI (gpt-4o): the same prompt, as many apps send it: a timestamp line first in the system
prompt and the tools in a random order (built from a set); ``none`` vs ``planner``.  Only
the ``busy`` pattern: the simulator's OpenAI cache keeps prefixes with no expiry (OpenAI's
keeps them 5-10 minutes idle, up to an hour), so longer gaps would flatter caching.

Billed input dollars = each answer's usage with its output removed, priced with the bundled
price data (input, cache reads and writes at their own rates).  Every request goes to the
simulator in-process (``httpx.ASGITransport``), which validates the body in the provider's
dialect: a plan the API would refuse fails the run.

**Overhead.** The stage alone, in-process, on an ~8,000-token prompt (7,000-token system, 6
tools, one question), both dialects: time per request through the planner against the same
requests handed straight to a no-op upstream, interleaved in the same run (p50, p95).  The
prefix repeats, as in production: the first sighting's token count (a few ms for 8k tokens)
is remembered.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from thrifty.config import PromptCacheSettings
from thrifty.levers.fewer_tokens.prompt_cache import PromptCachePlanner, prompt_cache_stage
from thrifty.pricing import PriceBook
from thrifty.providers.usage import usage_from_anthropic, usage_from_openai
from thrifty.sim import SimConfig, create_app
from thrifty.testing import FakeUpstream, reply
from thrifty.tokens import TokenCounter
from thrifty.types import ChatRequest, ChatResponse, Handler, Usage

ANTHROPIC_MODEL = "claude-sonnet-4-6"
OPENAI_MODEL = "gpt-4o"
HOUR = 3600.0
_WORDS = [
    "customer",
    "refund",
    "order",
    "shipping",
    "invoice",
    "account",
    "review",
    "answer",
    "escalate",
    "politely",
    "summarise",
    "verify",
    "identity",
    "warranty",
    "return",
    "label",
    "carrier",
    "delay",
    "apology",
    "credit",
    "balance",
    "statement",
    "subscription",
    "renewal",
    "cancel",
    "upgrade",
    "plan",
    "feature",
    "limit",
    "policy",
    "region",
]


def prose(words: int, seed: int) -> str:
    rng = random.Random(seed)
    out = [rng.choice(_WORDS) for _ in range(words)]
    return " ".join(w + ("." if i % 14 == 13 else "") for i, w in enumerate(out))


def tools_for(dialect: str, count: int = 6) -> list[dict[str, Any]]:
    tools = []
    for i in range(count):
        schema = {
            "type": "object",
            "properties": {
                "id": {"type": "string", "description": prose(12, 100 + i)},
                "reason": {"type": "string", "description": prose(12, 200 + i)},
            },
            "required": ["id"],
        }
        name, description = f"tool_{i}", prose(70, 300 + i)
        if dialect == "anthropic":
            tools.append({"name": name, "description": description, "input_schema": schema})
        else:
            tools.append(
                {
                    "type": "function",
                    "function": {"name": name, "description": description, "parameters": schema},
                }
            )
    return tools


def arrivals(pattern: str, rng: random.Random) -> Iterator[float]:
    now = 0.0
    span, gap = {
        "busy": (2 * HOUR, lambda: rng.expovariate(1 / 40)),
        "periodic": (12 * HOUR, lambda: rng.uniform(15 * 60, 25 * 60)),
        "rare": (48 * HOUR, lambda: rng.uniform(90 * 60, 150 * 60)),
    }[pattern]
    while now < span:
        yield now
        now += gap()


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def static_breakpoint(ttl: str) -> Callable[[Handler], Handler]:
    control = {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": "1h"}

    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            system = [{"type": "text", "text": request.body["system"], "cache_control": control}]
            body = {**request.body, "system": system}
            return await inner(dataclasses.replace(request, body=body))

        return handle

    return wrap


def sim_upstream(client: httpx.AsyncClient, usages: list[Usage]) -> Handler:
    async def handle(request: ChatRequest) -> ChatResponse:
        path = "/v1/messages" if request.dialect == "anthropic" else "/v1/chat/completions"
        answer = await client.post(path, json=request.body, headers={"x-api-key": "sim"})
        if answer.status_code != 200:
            raise SystemExit(f"the simulator refused a planned request: {answer.text}")
        wire = answer.json()["usage"]
        if request.dialect == "anthropic":
            usage = usage_from_anthropic(wire)
        else:
            usage = usage_from_openai(wire)
        usages.append(usage)
        return reply(request, "ok", usage)

    return handle


def planner_stage(counter: TokenCounter, **settings: Any) -> Callable[[Handler], Handler]:
    lever = PromptCacheSettings(enabled=True, **settings)
    return prompt_cache_stage(PromptCachePlanner({None: lever}, counter))


def input_usd(prices: PriceBook, model: str, usages: list[Usage]) -> Decimal:
    total = Decimal(0)
    provider = "anthropic" if model.startswith("claude") else "openai"
    for usage in usages:
        billed = Usage(
            input_tokens=usage.input_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_5m_tokens=usage.cache_write_5m_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
        )
        cost = prices.cost(billed, model, provider=provider).usd
        assert cost is not None
        total += cost
    return total


def chat_request(
    dialect: str, system: str, tools: list[dict[str, Any]], question: str, at: float
) -> ChatRequest:
    """One request of the workload in ``dialect`` (OpenAI: the system prompt first)."""
    model = ANTHROPIC_MODEL if dialect == "anthropic" else OPENAI_MODEL
    body: dict[str, Any] = {"model": model, "max_tokens": 16, "tools": tools}
    if dialect == "anthropic":
        body["system"] = system
        body["messages"] = [{"role": "user", "content": question}]
    else:
        body["messages"] = [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
        ]
    return ChatRequest(
        dialect=dialect,  # type: ignore[arg-type]
        body=body,
        model=model,
        requested_model=model,
        received_at=at,
    )


async def run_workload(
    dialect: str,
    pattern: str,
    strategy: str,
    seed: int,
    counter: TokenCounter,
    prices: PriceBook,
) -> dict[str, Any]:
    clock = Clock()
    app = create_app(SimConfig(), clock=clock)
    usages: list[Usage] = []
    rng = random.Random(seed)
    system = prose(2_300, 1)
    tools = tools_for(dialect)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        handler = sim_upstream(client, usages)
        if strategy == "planner":
            handler = planner_stage(counter)(handler)
        elif strategy == "planner-5m":
            handler = planner_stage(counter, allow_1h=False)(handler)
        elif strategy.startswith("always-"):
            handler = static_breakpoint(strategy.removeprefix("always-"))(handler)
        for n, at in enumerate(arrivals(pattern, rng)):
            clock.now = at
            question = f"Question {n}: " + prose(15, 10_000 + n)
            if dialect == "anthropic":
                request = chat_request(dialect, system, tools, question, at)
            else:  # as many apps send it: a timestamp first, tools in a random order
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_795_000_000 + at))
                shuffled = tools[:]
                rng.shuffle(shuffled)
                stamped = f"Current time: {stamp}\n{system}"
                request = chat_request(dialect, stamped, shuffled, question, at)
            await handler(request)
    total_input = sum(u.input_tokens for u in usages)
    return {
        "dialect": dialect,
        "pattern": pattern,
        "strategy": strategy,
        "requests": len(usages),
        "input_tokens": total_input,
        "cache_read_share": round(sum(u.cache_read_tokens for u in usages) / total_input, 4),
        "write_5m_tokens": sum(u.cache_write_5m_tokens for u in usages),
        "write_1h_tokens": sum(u.cache_write_1h_tokens for u in usages),
        "input_usd": str(
            input_usd(prices, ANTHROPIC_MODEL if dialect == "anthropic" else OPENAI_MODEL, usages)
        ),
    }


async def dollars(seed: int, counter: TokenCounter) -> list[dict[str, Any]]:
    prices = PriceBook()
    rows = []
    anthropic_strategies = ("none", "planner", "planner-5m", "always-5m", "always-1h")
    for pattern in ("busy", "periodic", "rare"):
        for strategy in anthropic_strategies:
            rows.append(await run_workload("anthropic", pattern, strategy, seed, counter, prices))
    for strategy in ("none", "planner"):
        rows.append(await run_workload("openai", "busy", strategy, seed, counter, prices))
    return rows


# -- overhead ------------------------------------------------------------------------------


def eight_k_request(dialect: str, n: int) -> ChatRequest:
    system = prose(5_400, 7)  # ~7,000 tokens
    question = f"Question {n}: " + prose(15, 20_000 + n)
    return chat_request(dialect, system, tools_for(dialect), question, 1_000.0 + n)


async def overhead(requests: int, counter: TokenCounter) -> list[dict[str, Any]]:
    results = []
    for dialect in ("anthropic", "openai"):
        prepared = reply(eight_k_request(dialect, 0), "ok", Usage(input_tokens=8_000))
        upstream = FakeUpstream(lambda req, r=prepared: r)  # type: ignore[misc]
        planned = planner_stage(counter)(upstream)
        sample = eight_k_request(dialect, 0)
        tokens = counter.count_request(sample).tokens
        for n in range(3):  # first sightings: counted once, then remembered
            await planned(eight_k_request(dialect, n))
        times: dict[str, list[float]] = {"direct": [], "planner": []}
        for n in range(requests):
            request = eight_k_request(dialect, 10 + n)
            order = [("direct", upstream), ("planner", planned)]
            random.shuffle(order)
            for name, handler in order:
                upstream.requests.clear()
                start = time.perf_counter()
                await handler(request)
                times[name].append((time.perf_counter() - start) * 1000)
        p50 = {k: statistics.median(v) for k, v in times.items()}
        p95 = {k: statistics.quantiles(v, n=20)[18] for k, v in times.items()}
        results.append(
            {
                "dialect": dialect,
                "prompt_tokens": tokens,
                "requests": requests,
                "direct_p50_ms": round(p50["direct"], 4),
                "planner_p50_ms": round(p50["planner"], 4),
                "overhead_p50_ms": round(p50["planner"] - p50["direct"], 4),
                "direct_p95_ms": round(p95["direct"], 4),
                "planner_p95_ms": round(p95["planner"], 4),
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--overhead-requests", type=int, default=2_000)
    parser.add_argument("--out", help="write the results as JSON here too")
    args = parser.parse_args()
    counter = TokenCounter()
    money = asyncio.run(dollars(args.seed, counter))
    print(
        f"{'dialect':9} {'pattern':9} {'strategy':11} {'reqs':>5} {'read %':>7} "
        f"{'5m writes':>10} {'1h writes':>10} {'input $':>10} {'vs none':>8}"
    )
    base: dict[tuple[str, str], Decimal] = {}
    for row in money:
        usd = Decimal(row["input_usd"])
        key = (row["dialect"], row["pattern"])
        base.setdefault(key, usd)
        change = (usd - base[key]) / base[key]
        row["vs_none"] = f"{change:+.1%}"
        print(
            f"{row['dialect']:9} {row['pattern']:9} {row['strategy']:11} {row['requests']:5} "
            f"{row['cache_read_share']:7.1%} {row['write_5m_tokens']:10} "
            f"{row['write_1h_tokens']:10} {usd:10.4f} {row['vs_none']:>8}"
        )
    cost = asyncio.run(overhead(args.overhead_requests, counter))
    print()
    for row in cost:
        print(
            f"overhead {row['dialect']:9} {row['prompt_tokens']} tokens: planner p50 "
            f"{row['planner_p50_ms']:.3f} ms vs direct {row['direct_p50_ms']:.3f} ms "
            f"(+{row['overhead_p50_ms']:.3f} ms); p95 {row['planner_p95_ms']:.3f} vs "
            f"{row['direct_p95_ms']:.3f} ms"
        )
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"dollars": money, "overhead": cost}, handle, indent=2)


if __name__ == "__main__":
    main()
