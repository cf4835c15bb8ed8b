"""ARC-Challenge (RouterBench): two things a scorer cascade might add, against the plain
cascade, on the test split (frontier: the cheapest threshold that reaches each target).

    .venv/bin/python bench/route_arc_vote.py      # ~8 min on a busy 2-core machine

The cascade is ``thrifty eval route``'s ``scorer-cascade@98%`` with its tier fixed to the two
cheap models it picks on train (Yi-34B and Mixtral), fitted on train only.

* ``vote``: on an escalated query, the final answer is the plurality of the three answers
  called (the two cheap ones agreeing overrule GPT-4), instead of GPT-4's answer.
* ``per-dollar``: the scorer's confidence p weighed by GPT-4's predicted cost of the prompt
  (``1 - (1 - p) / relative cost``, the cost predicted from the prompt's length, fitted on
  train), so a dear prompt escalates less readily.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thrifty.eval.route.answers import final_answer
from thrifty.eval.route.cascades import Cascade
from thrifty.eval.route.costs import CostByLength
from thrifty.eval.route.datasets import load_routerbench
from thrifty.eval.route.table import FloatArray, OutcomeTable

TIER = ("zero-one-ai/Yi-34B-Chat", "mistralai/mixtral-8x7b-chat")
TARGETS = (0.98, 1.0)


def frontier(
    cascade: Cascade, test: OutcomeTable, signals: FloatArray, vote: bool
) -> dict[float, float | None]:
    strongest, rows = cascade.strongest, np.arange(len(test))
    tier = [test.index(m) for m in TIER]
    answers = [[final_answer(test.responses[i][j]) for j in (*tier, strongest)] for i in rows]
    reference = float(test.scores[:, strongest].mean())
    best: dict[float, float | None] = dict.fromkeys(TARGETS)
    for threshold in np.unique(signals[:, 0]):
        chosen, called = cascade._decide(signals, float(threshold))
        if vote:
            for i in np.flatnonzero(signals[:, 0] < threshold):
                first, second, strong = answers[i]
                if first == second != strong:
                    chosen[i] = tier[0]
        quality = float(test.scores[rows, chosen].mean()) / reference
        cost = 100 * float((test.costs * called).sum() / test.costs[:, strongest].sum())
        for target in TARGETS:
            if quality >= target - 1e-12 and (best[target] is None or cost < best[target]):  # type: ignore[operator]
                best[target] = cost
    return best


def main() -> None:
    records = load_routerbench(Path("../shared/data/routerbench_subset"), "arc_challenge").records
    train = OutcomeTable.from_records([r for r in records if r.split == "train"])
    test = OutcomeTable.from_records([r for r in records if r.split == "test"], train.models)
    level = float(train.scores[:, train.strongest()].mean())
    cascade = Cascade("98%", learned=True, tier=TIER)
    cascade.fit(train, {"100%": level, "98%": 0.98 * level, "95%": 0.95 * level})
    signals = cascade._signals(cascade.state, test.views())
    costs = CostByLength.fit(train.prompts, train.costs)
    strong = cascade.strongest
    relative = (
        costs.predict(test.prompts)[:, strong] / costs.predict(train.prompts)[:, strong].mean()
    )
    weighed = signals.copy()
    weighed[:, 0] = 1 - (1 - signals[:, 0]) / relative
    spread = np.percentile(relative, [5, 50, 95])
    print(f"GPT-4's predicted cost per prompt / mean, 5th-50th-95th pct: {spread.round(3)}")
    print("| variant | cost at 98% of GPT-4 | cost to match GPT-4 |")
    print("|---|---|---|")
    for name, used, vote in (
        ("plain", signals, False),
        ("vote", signals, True),
        ("per-dollar", weighed, False),
    ):
        best = frontier(cascade, test, used, vote)
        shown = [f"{best[t]:.1f}%" if best[t] is not None else "never" for t in TARGETS]
        print(f"| {name} | {shown[0]} | {shown[1]} |")


if __name__ == "__main__":
    main()
