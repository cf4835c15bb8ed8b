"""ARC-Challenge (RouterBench): the vote chain against the issue's two targets, and why the
threshold chosen on train lands dearer than the test frontier.

    .venv/bin/python bench/route_arc_chain.py [--data ../shared/data/routerbench_subset]

Prints, as Markdown:

1. ``vote-chain@98%`` fitted on the train split, on the test split, as ``thrifty eval route``
   reports it (frontier and train-chosen settings; the chain chosen on train);
2. each cheap model's accuracy as a share of GPT-4's, on train and on test (the split is
   not exchangeable if these differ);
3. the same strategy on 10 random halves of train and test pooled (seeds 0-9, as
   ``thrifty eval route`` draws them): where the train-chosen setting lands when train and
   test come from one distribution;
4. bounds for the vote chain's family: every chain of 1-4 of the pool's cheap models at
   every ``(t, u)`` of the grid, confusions fitted on all of train; the cheapest reaching
   98% of GPT-4's accuracy on train scored on train itself (in-sample: no fitted choice can
   do better on train), and on test with hindsight (chain and thresholds picked reading the
   test labels);
5. for GPT-4's full accuracy: queries binned by how many of the six cheap models of the pool
   agree, counting where the plurality answer is right and GPT-4 wrong (a gain from
   accepting it) and the reverse (a loss), on train and on test (reads labels: analysis).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np

from thrifty.eval.route.answers import final_answer
from thrifty.eval.route.datasets import load_routerbench
from thrifty.eval.route.evaluate import TARGETS, evaluate_split, headline, random_halves
from thrifty.eval.route.records import RouteRecord
from thrifty.eval.route.table import OutcomeTable
from thrifty.eval.route.vote_chain import (
    GRID,
    Confusions,
    OptionCodes,
    VoteChain,
    answer_options,
    chain_outcomes,
    chain_pool,
)

HALVES = 10


def fitted(train: OutcomeTable, test: OutcomeTable) -> tuple[VoteChain, dict[str, float | None]]:
    chain = VoteChain("98%")
    split = evaluate_split(train, test, [chain])
    return chain, headline(split, split.results[0])


def shown(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}%"


def official(train: OutcomeTable, test: OutcomeTable) -> None:
    chain, figures = fitted(train, test)
    names = ", then ".join(train.models[j] for j in chain.chain)
    print(f"chain chosen on train: {names}; thresholds (t, u) per target: {chain.picks}\n")
    print("| figure | value |\n|---|---|")
    for key in (
        "cost_pct_at_98pct_quality",
        "cost_pct_to_match_strongest",
        "train_chosen_98_quality_pct",
        "train_chosen_98_cost_pct",
        "train_chosen_100_quality_pct",
        "train_chosen_100_cost_pct",
    ):
        print(f"| {key} | {shown(figures[key])} |")


def relative_accuracy(train: OutcomeTable, test: OutcomeTable) -> None:
    strongest = train.strongest()
    print("\n| cheap model | accuracy / GPT-4's, train | test |\n|---|---|---|")
    for j in chain_pool(train):
        shares = [
            float(t.scores[:, j].mean() / t.scores[:, strongest].mean()) for t in (train, test)
        ]
        print(f"| {train.models[j]} | {shares[0]:.3f} | {shares[1]:.3f} |")


def halves(records: list[RouteRecord]) -> None:
    print("\n| half (seed) | test frontier at 98% | train-chosen 98%: quality / cost |")
    print("|---|---|---|")
    rows = []
    for seed in range(HALVES):
        first, second = random_halves(len(records), seed)
        train = OutcomeTable.from_records([records[i] for i in first])
        test = OutcomeTable.from_records([records[i] for i in second], train.models)
        _, figures = fitted(train, test)
        quality, cost = figures["train_chosen_98_quality_pct"], figures["train_chosen_98_cost_pct"]
        frontier = figures["cost_pct_at_98pct_quality"]
        rows.append((frontier, quality, cost))
        print(f"| {seed} | {shown(frontier)} | {shown(quality)} / {shown(cost)} |")
    met = [r for r in rows if None not in r]
    if met:
        mean = np.array(met, dtype=float).mean(axis=0)
        print(f"| mean | {mean[0]:.1f}% | {mean[1]:.1f}% / {mean[2]:.1f}% |")


def cheapest_at(
    table: OutcomeTable,
    confusions: Confusions,
    codes: np.ndarray,
    pool: list[int],
    strongest: int,
    share: float,
) -> tuple[float | None, tuple[int, ...]]:
    """The cheapest chain and (t, u) of the grid whose quality on ``table`` reaches ``share``
    of the strongest model's (cost as % of always-strongest)."""
    level = share * float(table.scores[:, strongest].mean())
    baseline = float(table.costs[:, strongest].sum())
    outcomes = chain_outcomes(table, pool, strongest, lambda chain: confusions.stages(codes, chain))
    best: tuple[float | None, tuple[int, ...]] = (None, ())
    for (chain, _, _), (quality, cost) in outcomes.items():
        if quality >= level - 1e-12 and (best[0] is None or 100 * cost / baseline < best[0]):
            best = (100 * float(cost) / baseline, chain)
    return best


def bounds(train: OutcomeTable, test: OutcomeTable) -> None:
    pool = chain_pool(train)
    options = answer_options(train, pool)
    assert options is not None
    coder = OptionCodes(options)
    codes = {name: coder.of_table(t) for name, t in (("train", train), ("test", test))}
    confusions = Confusions.fit(codes["train"], train.scores, len(options))
    print(f"\n| bound ({len(GRID)} settings per chain) | 98% of GPT-4 | 100% of GPT-4 |")
    print("|---|---|---|")
    for name, table in (("train, in-sample", train), ("test, hindsight", test)):
        cells = []
        for share in (0.98, 1.0):
            rows = codes[name.split(",")[0]]
            cost, best = cheapest_at(table, confusions, rows, pool, train.strongest(), share)
            models = " > ".join(table.models[j].split("/")[-1] for j in best)
            cells.append(f"{shown(cost)} ({models})" if cost is not None else "never")
        print(f"| {name} | {cells[0]} | {cells[1]} |")


def agreement_bins(train: OutcomeTable, test: OutcomeTable) -> None:
    pool, strongest = chain_pool(train), train.strongest()
    print("\n| cheap models agreeing (of 6) | split | queries | cheap right, GPT-4 wrong |", end="")
    print(" cheap wrong, GPT-4 right |\n|---|---|---|---|---|")
    for agreeing in range(len(pool), 1, -1):
        for name, table in (("train", train), ("test", test)):
            queries = gains = losses = 0
            for i, texts in enumerate(table.responses):
                answers = [final_answer(texts[j]) for j in pool]
                top, votes = Counter(answers).most_common(1)[0]
                if votes != agreeing:
                    continue
                cheap = table.scores[i, pool[answers.index(top)]] >= 0.5
                strong = table.scores[i, strongest] >= 0.5
                queries += 1
                gains += int(cheap and not strong)
                losses += int(strong and not cheap)
            print(f"| {agreeing} | {name} | {queries} | {gains} | {losses} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/routerbench_subset"))
    args = parser.parse_args()
    started = time.process_time()
    records = load_routerbench(args.data, "arc_challenge").records
    train = OutcomeTable.from_records([r for r in records if r.split == "train"])
    test = OutcomeTable.from_records([r for r in records if r.split == "test"], train.models)
    print(f"targets: {sorted(TARGETS)} of the strongest model's quality\n")
    official(train, test)
    relative_accuracy(train, test)
    halves(records)
    bounds(train, test)
    agreement_bins(train, test)
    print(f"\nprocess CPU: {time.process_time() - started:.0f} s")


if __name__ == "__main__":
    main()
