"""The evaluation as a stable JSON document and as a text table.

JSON (``format: thrifty-eval-route/1``)::

    {"format": "thrifty-eval-route/1",
     "datasets": {"<name>": {
        "splits": 10, "n_train": 653, "n_test": 654, "dropped_rows": 12,
        "strongest": "<model>", "cheapest": "<model>",
        "strongest_test_quality": 0.857, "strongest_test_cost_usd": 4.1,
        "strategies": {"<strategy>": {
            "kind": "baseline" | "router" | "cascade" | "bound",
            "cost_pct_to_match_strongest": 61.2 | null,   # null: never matched
            "cost_pct_at_98pct_quality": ..., "cost_pct_at_95pct_quality": ...,
            "best_quality_pct": ...,
            "cpt_50": ..., "cpt_80": ..., "apgr": ...,      # RouteLLM figures (% / ratio)
            "train_chosen_98_quality_pct": ..., "train_chosen_98_cost_pct": ..., # if any
            "per_split": {"<figure>": [...]},               # when splits > 1
            "frontier": [{"cost_pct": .., "quality": .., "strong_share": .., "label": ..}]}}}}}

With several splits a figure is the mean over them, ``null`` if any split has ``null``; the
frontier is the first split's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thrifty.eval.route.evaluate import SplitResult, frontier_of, headline

FORMAT = "thrifty-eval-route/1"
Figure = float | None


@dataclass(frozen=True)
class DatasetRun:
    name: str
    dropped_rows: int
    splits: Sequence[SplitResult]


def _mean(values: Sequence[Figure]) -> Figure:
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None) / len(values)


def _round(value: Figure) -> Figure:
    return None if value is None or not math.isfinite(value) else round(value, 4)


def dataset_json(run: DatasetRun) -> dict[str, object]:
    first = run.splits[0]
    strategies: dict[str, object] = {}
    for index, result in enumerate(first.results):
        per_split = [headline(split, split.results[index]) for split in run.splits]
        keys = list(per_split[0])
        entry: dict[str, object] = {"kind": result.kind}
        entry.update({k: _round(_mean([f.get(k) for f in per_split])) for k in keys})
        if len(run.splits) > 1:
            entry["per_split"] = {k: [_round(f.get(k)) for f in per_split] for k in keys}
        entry["frontier"] = [
            {
                "cost_pct": _round(p.cost_pct),
                "quality": _round(p.quality),
                "strong_share": _round(p.strong_share),
                "label": p.label,
            }
            for p in frontier_of(result)
        ]
        strategies[result.name] = entry
    return {
        "splits": len(run.splits),
        "n_train": first.n_train,
        "n_test": first.n_test,
        "dropped_rows": run.dropped_rows,
        "strongest": first.strongest,
        "cheapest": first.cheapest,
        "strongest_test_quality": _round(_mean([s.strongest_quality for s in run.splits])),
        "strongest_test_cost_usd": _round(_mean([s.strongest_cost for s in run.splits])),
        "strategies": strategies,
    }


def report_json(runs: Sequence[DatasetRun]) -> dict[str, object]:
    return {"format": FORMAT, "datasets": {run.name: dataset_json(run) for run in runs}}


_COLUMNS = (
    ("strategy", "", 28),
    ("match", "cost_pct_to_match_strongest", 7),
    ("@98%", "cost_pct_at_98pct_quality", 7),
    ("@95%", "cost_pct_at_95pct_quality", 7),
    ("chosen98 q/c", "", 14),
    ("CPT50", "cpt_50", 6),
    ("CPT80", "cpt_80", 6),
    ("APGR", "apgr", 5),
)


def _cell(value: object, width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:.2f}" if abs(value) < 2 else f"{value:.1f}"
    else:
        text = str(value)
    return text.rjust(width)


def format_table(document: Mapping[str, object]) -> str:
    """Per data set: one line per strategy, cost as % of always-strongest."""
    lines = []
    datasets = document["datasets"]
    assert isinstance(datasets, dict)
    for name, data in datasets.items():
        lines.append(
            f"{name}: train {data['n_train']} / test {data['n_test']}, {data['splits']} split(s);"
            f" strongest {data['strongest']} (test quality {data['strongest_test_quality']},"
            f" ${data['strongest_test_cost_usd']}); cost in % of always-strongest"
        )
        lines.append("  ".join(title.rjust(width) for title, _, width in _COLUMNS))
        for strategy, figures in data["strategies"].items():
            cells = [strategy.ljust(28)]
            for title, key, width in _COLUMNS[1:]:
                if title.startswith("chosen"):
                    q = figures.get("train_chosen_98_quality_pct")
                    c = figures.get("train_chosen_98_cost_pct")
                    text = "-" if q is None or c is None else f"{q:.1f}/{c:.1f}"
                    cells.append(text.rjust(width))
                else:
                    cells.append(_cell(figures.get(key), width))
            lines.append("  ".join(cells))
        lines.append("")
    lines.append(
        "match: cost to reach the strongest model's test quality; @98%/@95%: to reach that"
        " share of it; chosen98: test quality % / cost % at the threshold chosen on train for"
        " 98%; CPT/APGR: RouteLLM's figures on the strong-share axis (2-model data)."
    )
    return "\n".join(lines)
