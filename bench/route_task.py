"""Prompt routers on RouteLLM's MMLU (or GSM8K) with and without the task name, over random
train/test halves: the cost at 95% of GPT-4's quality (test frontier) and the test result of
the threshold chosen on train for 95%, per half and as the mean.

    .venv/bin/python bench/route_task.py [--dataset mmlu] [--methods gain,value] \
        [--halves 10] [--no-task]

Each half is evaluated as ``thrifty eval route`` evaluates it (``evaluate_split``); only the
named prompt routers run, so a run takes minutes, not the whole command's half hour.
``--no-task`` drops the records' task names (the prompt alone decides).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from thrifty.eval.route.datasets import load_routellm
from thrifty.eval.route.evaluate import evaluate_split, headline, random_halves
from thrifty.eval.route.routers import PromptRouter
from thrifty.eval.route.table import OutcomeTable

FIGURES = ("cost_pct_at_95pct_quality", "train_chosen_95_quality_pct", "train_chosen_95_cost_pct")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/routellm_evals"))
    parser.add_argument("--dataset", default="mmlu", choices=("mmlu", "gsm8k"))
    parser.add_argument("--methods", default="gain,value")
    parser.add_argument("--halves", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-task", action="store_true")
    args = parser.parse_args()
    table = OutcomeTable.from_records(load_routellm(args.data, args.dataset).records)
    if args.no_task:
        table = replace(table, tasks=())
    methods = args.methods.split(",")
    figures: dict[str, dict[str, list[float]]] = {m: {f: [] for f in FIGURES} for m in methods}
    started = time.perf_counter()
    for index in range(args.halves):
        first, second = random_halves(len(table), args.seed + index)
        split = evaluate_split(
            table.subset(first), table.subset(second), [PromptRouter(m) for m in methods]
        )
        for result in split.results[:-1]:
            values = headline(split, result)
            for name in FIGURES:
                value = values.get(name)
                figures[result.name.removeprefix("prompt-router-")][name].append(
                    float("nan") if value is None else value
                )
            shown = ", ".join(f"{n} {values.get(n) or float('nan'):.1f}" for n in FIGURES)
            print(f"half {index}: {result.name}: {shown}", flush=True)
    task = "without task" if args.no_task else "with task"
    print(f"\n{args.dataset}, {task}, mean of {args.halves} halves:")
    print("| router | cost at 95% (frontier) | train-chosen 95%: quality / cost | min-max at 95% |")
    print("|---|---|---|---|")
    for method, by_name in figures.items():
        at95 = np.array(by_name[FIGURES[0]])
        quality, cost = np.mean(by_name[FIGURES[1]]), np.mean(by_name[FIGURES[2]])
        print(
            f"| prompt-router-{method} | {np.mean(at95):.1f}% | {quality:.1f}% / {cost:.1f}% "
            f"| {np.min(at95):.1f}-{np.max(at95):.1f}% |"
        )
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
