"""Threshold rules for the learned cascade on RouteLLM GSM8K (Mixtral -> GPT-4): why the
threshold fixed on train costs more than ``thrifty eval route``'s frontier figure.

    .venv/bin/python bench/cascade_thresholds.py [--data ../shared/data] [--halves 10]
        [--target 0.95] [--folds 5,10,20]

On each random half (the evaluation's ``random_halves``), the scorer-cascade is fitted on
train with its tier fixed to Mixtral, and its final scorer (fitted on all train rows) is
scored on test.  Rules for the threshold, each aiming at ``--target`` of GPT-4's train
quality:

* ``folds=K``: the lowest threshold whose out-of-fold train quality reaches the target, with
  K folds (5 is what ``thrifty eval route`` and ``--fit-cascade`` use);
* ``oof-train``: that 5-fold threshold's quality and cost on the out-of-fold train scores it
  was chosen on (on target by construction: the reference the test result is compared to);
* ``bagged``: the 5-fold threshold applied to the mean score of the five fold models;
* ``share``: the 5-fold threshold's accepted share on train, carried over as a quantile of
  the final model's train scores;
* ``hindsight``: the cheapest threshold reaching the target on test, chosen with the test
  labels (what the evaluation's frontier reads; a bound, not a rule).

Prints each rule's mean test quality (% of GPT-4's) and cost (% of always-GPT-4, both calls
counted on an escalation) over the halves, and the accepted shares.  Uses the strategy's
own fitting code (``Cascade``'s ``_train``, ``_signals``, ``_decide``,
``_choose_thresholds``), as the evaluation runs it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import thrifty.eval.route.strategies as strategies
from thrifty.eval.route.cascades import Cascade
from thrifty.eval.route.datasets import ROUTELLM_WEAK, load_routellm
from thrifty.eval.route.evaluate import random_halves
from thrifty.eval.route.table import FloatArray, OutcomeTable


class Scored:
    """One table's quality and cost for a threshold on given signals."""

    def __init__(self, cascade: Cascade, table: OutcomeTable) -> None:
        self.cascade, self.table = cascade, table
        strong = cascade.strongest
        self.quality = float(table.scores[:, strong].sum())
        self.cost = float(table.costs[:, strong].sum())

    def at(self, signals: FloatArray, threshold: float) -> tuple[float, float, float]:
        chosen, called = self.cascade._decide(signals, threshold)
        rows = np.arange(len(self.table))
        quality = 100.0 * float(self.table.scores[rows, chosen].sum()) / self.quality
        cost = 100.0 * float((self.table.costs * called).sum()) / self.cost
        return quality, cost, float((signals[:, 0] >= threshold).mean())


def fixed_tier_cascade(train: OutcomeTable) -> Cascade:
    """The scorer-cascade with Mixtral as its tier, set up as ``fit`` sets it up (without
    the tier search: there is one cheap model)."""
    cascade = Cascade("t", learned=True, tier=[ROUTELLM_WEAK])
    cascade.models, cascade.strongest = train.models, train.strongest()
    cascade.cheapest, cascade.train_cost = train.cheapest(), train.total_cost()
    cascade._answers, cascade._features, cascade._searching = {}, {}, False
    cascade.tier = (train.index(ROUTELLM_WEAK),)
    return cascade


def one_half(
    table: OutcomeTable, seed: int, target: float, folds: list[int]
) -> dict[str, tuple[float, float, float]]:
    first, second = random_halves(len(table), seed)
    train, test = table.subset(first), table.subset(second)
    cascade = fixed_tier_cascade(train)
    level = target * float(train.scores[:, cascade.strongest].mean())
    final = cascade._train(train)
    signals = cascade._signals(final, test.views())
    on_test, on_train = Scored(cascade, test), Scored(cascade, train)
    out: dict[str, tuple[float, float, float]] = {}
    chosen = {}
    for k in sorted({*folds, 5}):
        strategies.FOLDS = k
        chosen[k] = cascade._choose_thresholds(train, {"t": level})["t"]
    strategies.FOLDS = 5
    for k in folds:
        out[f"folds={k}"] = on_test.at(signals, chosen[k])
    threshold = chosen[5]
    # the out-of-fold scores and fold models, as _choose_thresholds builds them
    n = len(train)
    assignment = np.random.default_rng(1).permutation(n) % 5
    oof, fold_scores = np.zeros((n, 2)), []
    for fold in range(5):
        inside, outside = np.flatnonzero(assignment != fold), np.flatnonzero(assignment == fold)
        state = cascade._train(train.subset(inside))
        oof[outside] = cascade._signals(state, train.subset(outside).views())
        fold_scores.append(cascade._signals(state, test.views())[:, 0])
    out["oof-train"] = on_train.at(oof, threshold)
    bagged = signals.copy()
    bagged[:, 0] = np.mean(fold_scores, axis=0)
    out["bagged"] = on_test.at(bagged, threshold)
    share = float((oof[:, 0] >= threshold).mean())
    in_sample = cascade._signals(final, train.views())[:, 0]
    carried = float(np.quantile(in_sample, 1.0 - share)) if share > 0 else np.inf
    out["share"] = on_test.at(signals, carried)
    best: tuple[float, float, float] | None = None
    for candidate in sorted({*signals[:, 0].tolist(), np.inf}):
        got = on_test.at(signals, candidate)
        if got[0] >= 100.0 * target and (best is None or got[1] < best[1]):
            best = got
    assert best is not None  # escalating every row reaches any target up to 100%
    out["hindsight"] = best
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--halves", type=int, default=10)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--folds", default="5,10,20")
    args = parser.parse_args()
    folds = [int(k) for k in args.folds.split(",")]
    records = load_routellm(args.data / "routellm_evals", "gsm8k").records
    table = OutcomeTable.from_records(records)
    results: dict[str, list[tuple[float, float, float]]] = {}
    for seed in range(args.halves):
        started = time.perf_counter()
        for rule, got in one_half(table, seed, args.target, folds).items():
            results.setdefault(rule, []).append(got)
        line = ", ".join(f"{r} {v[-1][0]:.1f}%/{v[-1][1]:.1f}%" for r, v in results.items())
        print(f"half {seed} ({time.perf_counter() - started:.0f} s): {line}", flush=True)
    print(f"target {args.target:g} of GPT-4's train quality; means over {args.halves} halves")
    print(f"{'rule':12s} {'quality %':>10s} {'cost %':>8s} {'cost range':>12s} {'accepted':>9s}")
    for rule, got in results.items():
        quality = statistics.mean(g[0] for g in got)
        costs = [g[1] for g in got]
        accepted = statistics.mean(g[2] for g in got)
        spread = f"{min(costs):.1f}-{max(costs):.1f}"
        print(
            f"{rule:12s} {quality:10.2f} {statistics.mean(costs):8.2f} {spread:>12s}"
            f" {accepted:9.3f}"
        )


if __name__ == "__main__":
    main()
