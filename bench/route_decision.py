"""Per-decision time of the fitted routers and cascade scorers of ``thrifty eval route``.

    .venv/bin/python bench/route_decision.py [--data ../shared/data] [--decisions 2000]

Fits each strategy on the first half of the RouteLLM GSM8K records (prompts and Mixtral's
answers), then times single decisions (one query at a time, as live traffic arrives) on the
other half: the prompt router (TF-IDF + logistic regression, and kNN) from the prompt, and
the learned cascade scorer from the prompt and the cheap answer.  The vote chain is fitted on
RouterBench ARC's train split and decides ARC test queries (every cheap answer it reads
parsed and weighed; no memo of earlier queries).  The baseline, timed in the
same run, is what static routing does per request: one dict lookup of the task's model.
Prints p50 / p99 in milliseconds and each p50 as a multiple of the baseline's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from thrifty.eval.route.cascades import Cascade
from thrifty.eval.route.datasets import ROUTELLM_WEAK, load_routellm, load_routerbench
from thrifty.eval.route.evaluate import TARGETS, random_halves
from thrifty.eval.route.routers import PromptRouter
from thrifty.eval.route.table import OutcomeTable, QueryView
from thrifty.eval.route.vote_chain import VoteChain


def timed(decide: Callable[[int], object], decisions: int, rows: int) -> list[float]:
    for i in range(min(50, rows)):  # warm-up
        decide(i)
    seconds = []
    for k in range(decisions):
        started = time.perf_counter()
        decide(k % rows)
        seconds.append(time.perf_counter() - started)
    return seconds


def quantile_ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_vote_chain(data: Path, decisions: int) -> list[float]:
    records = load_routerbench(data / "routerbench_subset", "arc_challenge").records
    train = OutcomeTable.from_records([r for r in records if r.split == "train"])
    test = OutcomeTable.from_records([r for r in records if r.split == "test"], train.models)
    level = float(train.scores[:, train.strongest()].mean())
    chain = VoteChain("98%")
    chain.fit(train, {name: share * level for name, share in TARGETS.items()})
    accept, give_up = chain.picks["98%"]
    views = test.views()
    return timed(lambda i: chain.decide(views[i], accept, give_up), decisions, len(test))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--decisions", type=int, default=2000)
    args = parser.parse_args()
    table = OutcomeTable.from_records(load_routellm(args.data / "routellm_evals", "gsm8k").records)
    first, second = random_halves(len(table), 0)
    train, test = table.subset(first), table.subset(second)
    level = float(train.scores[:, train.strongest()].mean())
    targets = {name: share * level for name, share in TARGETS.items()}

    routes = {"summarise": "mixtral"}
    rows: dict[str, list[float]] = {
        "static route (dict lookup, baseline)": timed(
            lambda i: routes.get("summarise"), args.decisions, len(test)
        )
    }
    for method in ("logreg", "knn"):
        router = PromptRouter(method)
        router.fit(train, targets)
        threshold = router.thresholds["95%"]
        rows[f"prompt-router-{method}"] = timed(
            lambda i, r=router, t=threshold: r.decide_one(test.prompts[i], t),
            args.decisions,
            len(test),
        )
    cascade = Cascade("98%", learned=True, tier=[ROUTELLM_WEAK])
    cascade.fit(train, targets)
    weak = test.index(ROUTELLM_WEAK)

    def scorer(i: int) -> int:
        view = QueryView(test.prompts[i], ((ROUTELLM_WEAK, test.responses[i][weak]),))
        return cascade.decide_one(view, cascade.thresholds["95%"])

    rows["scorer-cascade (prompt + cheap answer)"] = timed(scorer, args.decisions, len(test))
    rows["vote-chain (ARC, 1-3 cheap answers)"] = time_vote_chain(args.data, args.decisions)

    baseline = statistics.median(rows["static route (dict lookup, baseline)"])
    print(f"{args.decisions} single decisions each, GSM8K, fitted on {len(train)} queries")
    print(f"{'decision':42s} {'p50 ms':>8s} {'p99 ms':>8s} {'p50 / baseline':>15s}")
    for name, seconds in rows.items():
        ratio = statistics.median(seconds) / baseline
        print(
            f"{name:42s} {quantile_ms(seconds, 0.5):8.3f} {quantile_ms(seconds, 0.99):8.3f}"
            f" {ratio:15.0f}x"
        )


if __name__ == "__main__":
    main()
