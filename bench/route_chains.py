"""Agreement chains on RouterBench: what a chain chosen on train gets on test, against the
best chain chosen with hindsight on test (a bound, since it reads the test labels).

    .venv/bin/python bench/route_chains.py [--data ../shared/data/routerbench_subset]

A chain calls a first tier of 1-3 cheap models and accepts their answer when they all agree
(a tier of one never accepts alone); otherwise it calls 0-2 more cheap models and accepts
the plurality answer of every model called so far when at least ``k`` of them give it (and
no other answer ties it); otherwise it calls the strongest model.  Every call is paid.  No
threshold is fitted, so choosing a chain on train is a choice among a few thousand fixed
rules: the cheapest whose train quality reaches the target.  Cheap models are those the
cascades of ``thrifty eval route`` may use (:func:`cascade_pool`).
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from pathlib import Path

import numpy as np

from thrifty.eval.route.answers import final_answer
from thrifty.eval.route.cascades import cascade_pool
from thrifty.eval.route.datasets import load_routerbench
from thrifty.eval.route.table import OutcomeTable

Chain = tuple[tuple[int, ...], tuple[int, ...], int]
TARGETS = {"98%": 0.98, "100%": 1.0}


def chains(pool: list[int]) -> list[Chain]:
    found: list[Chain] = []
    for size in (1, 2, 3):
        for first in itertools.combinations(pool, size):
            if size > 1:
                found.append((first, (), 0))
            rest = [j for j in pool if j not in first]
            for more in (1, 2):
                for second in itertools.combinations(rest, more):
                    found += [(first, second, k) for k in range(2, size + more + 1)]
    return found


def replay(table: OutcomeTable, answers: list[list[str]], chain: Chain) -> tuple[float, float]:
    """Test quality and cost (% of always-strongest) of ``chain`` on ``table``."""
    first, second, k = chain
    strongest, n = table.strongest(), len(table)
    chosen = np.full(n, strongest, dtype=np.int64)
    called = np.zeros(table.scores.shape, dtype=bool)
    called[:, list(first)] = True
    for i in range(n):
        said = [answers[i][j] for j in first]
        if len(first) > 1 and len(set(said)) == 1:
            chosen[i] = first[0]
            continue
        if not second:
            continue
        called[i, list(second)] = True
        every = [*first, *second]
        [(top, votes), *others] = Counter(answers[i][j] for j in every).most_common(2)
        if votes >= k and not (others and others[0][1] == votes):
            chosen[i] = next(j for j in every if answers[i][j] == top)
    called[chosen == strongest, strongest] = True
    quality = float(table.scores[np.arange(n), chosen].mean())
    cost = float((table.costs * called).sum() / table.costs[:, strongest].sum())
    return quality, 100.0 * cost


def describe(table: OutcomeTable, chain: Chain) -> str:
    first, second, k = chain
    name = lambda js: "+".join(table.models[j].split("/")[-1] for j in js)  # noqa: E731
    then = f", then {name(second)} ({k} of all agree)" if second else ""
    return f"{name(first)}{' all agree' if len(first) > 1 else ''}{then}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/routerbench_subset"))
    args = parser.parse_args()
    print("| data set | target | chosen on train: test quality / cost | hindsight best on test |")
    print("|---|---|---|---|")
    for task in ("arc_challenge", "mbpp", "winograde"):
        records = load_routerbench(args.data, task).records
        train = OutcomeTable.from_records([r for r in records if r.split == "train"])
        test = OutcomeTable.from_records([r for r in records if r.split == "test"])
        strong = train.strongest()
        options = chains(cascade_pool(train))
        on_train = [
            replay(train, [[final_answer(t) for t in r] for r in train.responses], c)
            for c in options
        ]
        test_answers = [[final_answer(t) for t in r] for r in test.responses]
        on_test = [replay(test, test_answers, c) for c in options]
        top_train = float(train.scores[:, strong].mean())
        top_test = float(test.scores[:, strong].mean())
        for target, share in TARGETS.items():
            met = [i for i, (q, _) in enumerate(on_train) if q >= share * top_train]
            if met:
                pick = min(met, key=lambda i: on_train[i][1])
                q, c = on_test[pick]
                chosen = f"{100 * q / top_test:.1f}% / {c:.1f}% ({describe(test, options[pick])})"
            else:
                best = max(q for q, _ in on_train)
                chosen = f"none reaches it on train (best {100 * best / top_train:.1f}%)"
            hits = [i for i, (q, _) in enumerate(on_test) if q >= share * top_test]
            hind = "none"
            if hits:
                best_i = min(hits, key=lambda i: on_test[i][1])
                hind = f"{on_test[best_i][1]:.1f}% ({describe(test, options[best_i])})"
            print(f"| {task} | {target} of GPT-4 | {chosen} | {hind} |")


if __name__ == "__main__":
    main()
