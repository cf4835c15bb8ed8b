"""The escalation cascade: what its decision adds on top of the calls, and its decisions on
replayed data.

    .venv/bin/python bench/cascade.py overhead [--requests 3000] [--scorer cascade.json]
    .venv/bin/python bench/cascade.py replay [--data ../shared/data] [--halves 10]

``overhead``: requests through the cascade stage over an upstream that answers at once
(a GSM8K-sized answer), against a pass-through baseline timed in the same run: the same
calls made straight to that upstream.  Cases: accepted at tier 0 (JSON Schema + regex +
self-reported confidence), escalated (the same signals refuse; two calls, baseline two
calls), accepted with a per-tier deadline (``tier_timeout_s``), a streamed request
accepted (held, then replayed as a stream), and the learned scorer when ``--scorer`` names a
fitted file (its cheap model is tier 0).  Prints p50/p99
per request and the p50 added over the baseline.

``replay``: the stage's own decision code (``ScorerCheck`` on ``TierAnswer``s) replayed on
test rows after fitting on train only, counting both calls on an escalation: RouteLLM
GSM8K on ``--halves`` random halves (Mixtral -> GPT-4), and RouterBench ARC-Challenge on
its given split, for each cheap model of the cascade pool and each pair of the three best on
train (tier 0 and the agreement model, called together) (-> GPT-4).  Each row also says
how many decisions differ from ``thrifty eval route``'s ``Cascade.decide_one``, and the
hindsight bound: the cheapest threshold reaching the target on the test rows, chosen with
their labels (the figure ``thrifty eval route`` reads off its test frontier).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from thrifty.config import CascadeSettings
from thrifty.levers.cheaper.cascade.plan import Plans, plan_for
from thrifty.levers.cheaper.cascade.stage import Upstreams, cascade_stage
from thrifty.levers.cheaper.routing import translatable
from thrifty.testing import FakeUpstream, collect, reply, request_for
from thrifty.types import ChatRequest, ChatResponse, Usage

CHEAP, STRONG = "claude-haiku-4-5", "claude-sonnet-4-6"
ANSWER = (
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"
)
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"enum": ["low", "high"]}},
    "required": ["answer", "confidence"],
}
QUESTION = "Natalia sold clips to 48 of her friends in April, and then she sold half as many"


def json_answer(confidence: str) -> str:
    import json

    return json.dumps({"answer": ANSWER, "confidence": confidence})


def upstreams() -> Upstreams:
    return Upstreams(lambda m: "anthropic", lambda m: "anthropic", translatable)


def stage_over(settings: dict[str, Any], answer: Callable[[ChatRequest], ChatResponse]) -> Any:
    plan = plan_for("bench", CascadeSettings(**settings), lambda model: True)
    return cascade_stage(Plans({"bench": plan}, None, frozenset()), upstreams())(
        FakeUpstream(answer)
    )


async def timed(run: Callable[[], Awaitable[object]], requests: int) -> list[float]:
    for _ in range(min(200, requests)):
        await run()
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        await run()
        seconds.append(time.perf_counter() - started)
    return seconds


def ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def overhead(requests: int, scorer: Path | None, scorer_text: str | None) -> None:
    usage = Usage(input_tokens=120, output_tokens=60)

    def by_confidence(req: ChatRequest) -> ChatResponse:
        return reply(req, json_answer("high" if req.model == CHEAP else "low"), usage)

    def refused(req: ChatRequest) -> ChatResponse:
        return reply(req, json_answer("low"), usage)

    signals = {"json_schema": SCHEMA, "regex": "####", "confidence_field": "confidence"}
    tiers = {"tiers": [CHEAP, STRONG]}
    accept = stage_over({**tiers, **signals}, by_confidence)
    deadline = stage_over({**tiers, **signals, "tier_timeout_s": 30}, by_confidence)
    escalate = stage_over({**tiers, **signals}, refused)
    plain = FakeUpstream(by_confidence)
    ask = request_for(STRONG, QUESTION, dialect="anthropic", task="bench")
    ask_stream = request_for(STRONG, QUESTION, dialect="anthropic", task="bench", stream=True)

    async def twice() -> None:
        await plain(ask)
        await plain(ask)

    async def streamed_baseline() -> None:
        from thrifty.testing import stream_reply

        await collect(stream_reply(ask_stream, [json_answer("high")], usage))

    async def streamed() -> None:
        await collect(await accept(ask_stream))

    cases: list[tuple[str, Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]] = [
        (
            "accepted at tier 0 (schema, regex, self-report)",
            lambda: accept(ask),
            lambda: plain(ask),
        ),
        ("accepted, with a tier deadline", lambda: deadline(ask), lambda: plain(ask)),
        ("escalated (2 calls)", lambda: escalate(ask), twice),
        ("stream held, accepted, replayed", streamed, streamed_baseline),
    ]
    if scorer is not None and scorer_text is not None:
        import json

        cheap = json.loads(scorer_text)["cheap_models"]
        fitted = {"tiers": [cheap[0], STRONG], "scorer_path": str(scorer), "target_quality": 0.95}
        if len(cheap) == 2:  # a pair scorer: tier 0 and its agreement model, called together
            fitted |= {"agreement": True, "agreement_model": cheap[1]}
        scored = stage_over(fitted, lambda req: reply(req, ANSWER, usage))
        cases.append(("learned scorer (GSM8K fit)", lambda: scored(ask), lambda: plain(ask)))
    print(f"{requests} requests per case, an upstream that answers at once")
    print(f"{'case':48s} {'p50 ms':>8s} {'p99 ms':>8s} {'base p50':>9s} {'added p50':>10s}")
    for name, run, base in cases:
        # alternate the two so machine noise hits both alike
        mine, theirs = [], []
        for _ in range(5):
            mine += await timed(run, requests // 5)
            theirs += await timed(base, requests // 5)
        added = statistics.median(mine) - statistics.median(theirs)
        print(
            f"{name:48s} {ms(mine, 0.5):8.3f} {ms(mine, 0.99):8.3f} {ms(theirs, 0.5):9.3f}"
            f" {1000 * added:10.3f}"
        )


def replay(data: Path, halves: int, sets: list[str]) -> None:
    from thrifty.eval.route.cascades import cascade_pool
    from thrifty.eval.route.datasets import ROUTELLM_WEAK, load_routellm, load_routerbench
    from thrifty.eval.route.evaluate import random_halves
    from thrifty.eval.route.table import OutcomeTable
    from thrifty.levers.cheaper.cascade.fit import fit_document

    shares = [0.95, 0.98, 1.0]
    print("target = share of the strong model's train quality; test figures, both calls counted")
    print("hindsight = the cheapest threshold reaching the target on test, chosen with the test")
    print("labels (what thrifty eval route's frontier reads): a bound, not a deployable setting")
    heads = ("target", "quality %", "cost %", "escal.", "differ", "hs qual.", "hs cost")
    print(f"{'data':34s} " + " ".join(f"{h:>9s}" for h in heads))

    def show(name: str, tests: list[dict[str, Any]]) -> None:
        for key in tests[0]:
            q = statistics.mean(t[key]["quality_pct"] for t in tests)
            c = statistics.mean(t[key]["cost_pct"] for t in tests)
            e = statistics.mean(t[key]["escalation_rate"] for t in tests)
            d = sum(t[key]["decisions_unlike_evaluated_strategy"] for t in tests)
            hq = statistics.mean(t[key]["hindsight"]["quality_pct"] for t in tests)
            hc = statistics.mean(t[key]["hindsight"]["cost_pct"] for t in tests)
            print(f"{name:34s} {key:>9s} {q:9.2f} {c:9.2f} {e:9.3f} {d:9d} {hq:9.2f} {hc:9.2f}")

    if "gsm8k" in sets:
        table = OutcomeTable.from_records(load_routellm(data / "routellm_evals", "gsm8k").records)
        tests = []
        for seed in range(halves):
            first, second = random_halves(len(table), seed)
            split = (table.subset(first), table.subset(second))
            tests.append(fit_document(*split, [ROUTELLM_WEAK], shares)["test"])
        show(f"gsm8k mean of {halves} halves", tests)
        for per in tests:
            got, bound = per["0.95"], per["0.95"]["hindsight"]
            print(
                f"  gsm8k half at 0.95: fitted {got['quality_pct']:.2f}% quality at"
                f" {got['cost_pct']:.2f}% cost; hindsight {bound['quality_pct']:.2f}% at"
                f" {bound['cost_pct']:.2f}%"
            )
    if "arc" in sets:
        arc = load_routerbench(data / "routerbench_subset", "arc_challenge").records
        train = OutcomeTable.from_records([r for r in arc if r.split == "train"])
        test = OutcomeTable.from_records([r for r in arc if r.split == "test"], train.models)
        pool = cascade_pool(train)
        for cheap in pool:
            document = fit_document(train, test, [train.models[cheap]], shares)
            show(f"arc {train.models[cheap][:30]}", [document["test"]])
        # pairs (tier 0 + the agreement model) among the three cheap models best on train
        quality = train.mean_quality()
        best = sorted(pool, key=lambda j: -quality[j])[:3]
        for a, b in itertools.combinations(best, 2):
            pair = [train.models[a], train.models[b]]
            document = fit_document(train, test, pair, shares)
            names = " + ".join(m.split("/")[-1][:14] for m in pair)
            show(f"arc {names}", [document["test"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    cost = sub.add_parser("overhead")
    cost.add_argument("--requests", type=int, default=3000)
    cost.add_argument("--scorer", type=Path)
    data = sub.add_parser("replay")
    data.add_argument("--data", type=Path, default=Path("../shared/data"))
    data.add_argument("--halves", type=int, default=10)
    data.add_argument("--only", choices=("gsm8k", "arc"), action="append")
    args = parser.parse_args()
    if args.mode == "overhead":
        text = args.scorer.read_text() if args.scorer else None
        asyncio.run(overhead(args.requests, args.scorer, text))
    else:
        replay(args.data, args.halves, args.only or ["gsm8k", "arc"])


if __name__ == "__main__":
    main()
