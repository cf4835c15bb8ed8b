"""Chat-history benchmark: billed input dollars and cached share of a long conversation per
history policy, and the stage's overhead per request, measured in the same run.

    .venv/bin/python bench/history.py [--turns 200] [--overhead-requests N] [--out FILE]
        [--plot FILE.png]

**Dollars.** One conversation of ``--turns`` requests (default 200) on a ~2,000-token system
prompt; each request adds the previous answer and a new question (~50 tokens each, ~100 new
tokens a turn), one request every 30 s on the simulator's clock.  Every request goes to the
simulator in-process (``httpx.ASGITransport``), which validates the body in the provider's
dialect and emulates the provider's prompt cache.

Anthropic (claude-sonnet-4-6): the app sends a ``cache_control`` breakpoint on the system
prompt and on the last message of every request (the strong baseline: every turn reads the
whole earlier conversation from cache), except ``full-nocache`` (no breakpoints at all).
Strategies: ``full-nocache``, ``full`` (the baseline), and thrifty's history stage with a
4,000-token history budget: ``last_n`` (40 messages kept, dropped 20 at a time),
``budget`` (``budget_tokens = 4000``) and ``summary`` (the same cuts; the dropped turns
summarised by claude-haiku-4-5, whose calls are added to the bill), all at the default
``low_water = 0.5``; and ``summary-lw0.4``, the summary policy with ``low_water = 0.4`` (a
cut keeps at most 40% of the budget, so cuts, summary calls and cache losses are rarer).

OpenAI (gpt-4o; automatic caching, no breakpoints): ``full``, ``last_n`` and ``budget``.

Billed input dollars = each answer's usage with its output removed, priced with the bundled
price data (input, cache reads and writes at their own rates); summary calls count in full
(input and output).

**Overhead.** The stage alone (budget policy), in-process, on an ~8,000-token conversation
(the same system prompt and 120 turns, trimmed to the budget), against the same requests
handed straight to a no-op upstream, interleaved in the same run (p50, p95).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prompt_cache import Clock, input_usd, prose

from thrifty.config import HistorySettings
from thrifty.levers.fewer_tokens.history.stage import history_stage
from thrifty.pricing import PriceBook
from thrifty.providers.usage import usage_from_anthropic, usage_from_openai
from thrifty.sim import SimConfig, create_app
from thrifty.testing import FakeUpstream, reply
from thrifty.tokens import TokenCounter
from thrifty.types import ChatRequest, ChatResponse, Dialect, Handler, Usage

MODELS = {"anthropic": "claude-sonnet-4-6", "openai": "gpt-4o"}
SUMMARY_MODEL = "claude-haiku-4-5"
BREAKPOINT = {"type": "ephemeral"}
SETTINGS = {
    "last_n": HistorySettings(enabled=True, policy="last_n", max_turns=40, step_turns=20),
    "budget": HistorySettings(enabled=True, policy="budget", budget_tokens=4000),
    "summary": HistorySettings(
        enabled=True, policy="summary", budget_tokens=4000, summary_model=SUMMARY_MODEL
    ),
    "summary-lw0.4": HistorySettings(
        enabled=True,
        policy="summary",
        budget_tokens=4000,
        summary_model=SUMMARY_MODEL,
        low_water=0.4,
    ),
}


def conversation(dialect: Dialect, turn: int, cached: bool) -> ChatRequest:
    """The request of turn ``turn``: the system prompt, every earlier question and answer,
    and the new question (breakpoints on the system prompt and the last message)."""
    model = MODELS[dialect]
    system = prose(930, 1)
    messages: list[dict[str, Any]] = []
    for i in range(turn + 1):
        messages.append({"role": "user", "content": f"Q{i}: " + prose(23, 1_000 + i)})
        if i < turn:
            messages.append({"role": "assistant", "content": f"A{i}: " + prose(23, 5_000 + i)})
    body: dict[str, Any] = {"model": model, "max_tokens": 64}
    if dialect == "anthropic":
        if cached:
            last = messages[-1]
            block = {"type": "text", "text": last["content"], "cache_control": BREAKPOINT}
            messages[-1] = {"role": "user", "content": [block]}
            body["system"] = [{"type": "text", "text": system, "cache_control": BREAKPOINT}]
        else:
            body["system"] = system
        body["messages"] = messages
    else:
        body["messages"] = [{"role": "system", "content": system}, *messages]
    return ChatRequest(dialect=dialect, body=body, model=model, requested_model=model)


def sim_upstream(client: httpx.AsyncClient, usages: list[Usage]) -> Handler:
    """Calls the simulator; keeps its answer (the summary text) and each call's usage."""

    async def handle(request: ChatRequest) -> ChatResponse:
        path = "/v1/messages" if request.dialect == "anthropic" else "/v1/chat/completions"
        answer = await client.post(path, json=request.body, headers={"x-api-key": "sim"})
        if answer.status_code != 200:
            raise SystemExit(f"the simulator refused a request: {answer.text}")
        body = answer.json()
        if request.dialect == "anthropic":
            usage = usage_from_anthropic(body["usage"])
        else:
            usage = usage_from_openai(body["usage"])
        usages.append(usage)
        return dataclasses.replace(reply(request, "ok", usage), body=body)

    return handle


def call_usd(prices: PriceBook, model: str, usages: list[Usage]) -> Decimal:
    total = Decimal(0)
    for usage in usages:
        cost = prices.cost(usage, model, provider="anthropic").usd
        assert cost is not None
        total += cost
    return total


async def run(
    dialect: Dialect, strategy: str, turns: int, counter: TokenCounter, prices: PriceBook
) -> dict[str, Any]:
    clock = Clock()
    app = create_app(SimConfig(), clock=clock)
    usages: list[Usage] = []
    summary_usages: list[Usage] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim"
    ) as client:
        handler = sim_upstream(client, usages)
        if strategy in SETTINGS:
            summariser = sim_upstream(client, summary_usages)
            handler = history_stage({None: SETTINGS[strategy]}, summariser, counter)(handler)
        for turn in range(turns):
            clock.now = 30.0 * turn
            await handler(conversation(dialect, turn, strategy != "full-nocache"))
    model = MODELS[dialect]
    total_input = sum(u.input_tokens for u in usages)
    main_usd = input_usd(prices, model, usages)
    summary_usd = call_usd(prices, SUMMARY_MODEL, summary_usages)
    return {
        "dialect": dialect,
        "strategy": strategy,
        "requests": len(usages),
        "input_tokens": total_input,
        "cache_read_share": round(sum(u.cache_read_tokens for u in usages) / total_input, 4),
        "cache_write_tokens": sum(u.cache_write_tokens for u in usages),
        "summary_calls": len(summary_usages),
        "input_usd": str(main_usd + summary_usd),
        "summary_usd": str(summary_usd),
        "per_turn_input": [u.input_tokens for u in usages],
        "per_turn_cached": [round(u.cache_read_tokens / u.input_tokens, 4) for u in usages],
    }


def no_cache_usd(prices: PriceBook, row: dict[str, Any]) -> Decimal:
    """What ``row``'s input would cost with no caching at all (every token at the input rate)."""
    return input_usd(prices, MODELS[row["dialect"]], [Usage(input_tokens=row["input_tokens"])])


async def dollars(turns: int, counter: TokenCounter) -> list[dict[str, Any]]:
    prices = PriceBook()
    rows = []
    for strategy in ("full-nocache", "full", "last_n", "budget", "summary", "summary-lw0.4"):
        rows.append(await run("anthropic", strategy, turns, counter, prices))
    for strategy in ("full", "last_n", "budget"):
        row = await run("openai", strategy, turns, counter, prices)
        row["no_cache_usd"] = str(no_cache_usd(prices, row))
        rows.append(row)
    for dialect in ("anthropic", "openai"):
        base = next(r for r in rows if r["dialect"] == dialect and r["strategy"] == "full")
        for row in rows:
            if row["dialect"] == dialect:
                ratio = Decimal(row["input_usd"]) / Decimal(base["input_usd"])
                row["vs_full_cached"] = f"{(1 - ratio) * 100:.1f}% fewer"
    nocache = next(r for r in rows if r["strategy"] == "full-nocache")
    for row in rows:
        if row["dialect"] == "anthropic":
            ratio = Decimal(row["input_usd"]) / Decimal(nocache["input_usd"])
            row["vs_full_nocache"] = f"{(1 - ratio) * 100:.1f}% fewer"
    return rows


async def overhead(requests: int, counter: TokenCounter) -> dict[str, Any]:
    sample = conversation("openai", 120, cached=False)
    upstream = FakeUpstream(lambda req: reply(req, "ok", Usage(input_tokens=8_000)))
    staged = history_stage({None: SETTINGS["budget"]}, None, counter)(upstream)
    tokens = counter.count_request(sample).tokens
    for _ in range(3):  # the long turns' counts are remembered after the first sighting
        await staged(sample)
    times: dict[str, list[float]] = {"direct": [], "history": []}
    for _ in range(requests):
        order: list[tuple[str, Handler]] = [("direct", upstream), ("history", staged)]
        random.shuffle(order)
        for name, handler in order:
            upstream.requests.clear()
            start = time.perf_counter()
            await handler(sample)
            times[name].append((time.perf_counter() - start) * 1000)
    p50 = {k: statistics.median(v) for k, v in times.items()}
    p95 = {k: statistics.quantiles(v, n=20)[18] for k, v in times.items()}
    return {
        "prompt_tokens": tokens,
        "requests": requests,
        "direct_p50_ms": round(p50["direct"], 4),
        "history_p50_ms": round(p50["history"], 4),
        "overhead_p50_ms": round(p50["history"] - p50["direct"], 4),
        "overhead_p95_ms": round(p95["history"] - p95["direct"], 4),
    }


def plot(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for row in rows:
        if row["dialect"] != "anthropic" or row["strategy"] == "full-nocache":
            continue
        top.plot(row["per_turn_input"], label=row["strategy"])
        bottom.plot(row["per_turn_cached"], label=row["strategy"])
    top.set_ylabel("input tokens")
    bottom.set_ylabel("share read from cache")
    bottom.set_xlabel("turn")
    top.set_title("Chat history on claude-sonnet-4-6 (simulated), 4k-token history budget")
    top.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--overhead-requests", type=int, default=2_000)
    parser.add_argument("--out", help="write the results as JSON here too")
    parser.add_argument("--plot", help="write the per-turn plot (PNG) here")
    args = parser.parse_args()
    counter = TokenCounter()
    rows = asyncio.run(dollars(args.turns, counter))
    if args.plot:
        plot(rows, args.plot)
    cost = asyncio.run(overhead(args.overhead_requests, counter))
    for row in rows:
        shown = {k: v for k, v in row.items() if not k.startswith("per_turn")}
        print(json.dumps(shown))
    print(json.dumps({"overhead": cost}))
    if args.out:
        Path(args.out).write_text(json.dumps({"dollars": rows, "overhead": cost}, indent=1))


if __name__ == "__main__":
    main()
