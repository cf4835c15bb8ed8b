"""``thrifty route train``: fit a learned router on replay records and write its file.

The records are ``thrifty eval route``'s (docs/eval-route.md): your own JSONL (for example
``thrifty shadow export``'s, from live traffic) or a built-in data set.  The router is
fitted on the ``train`` rows (every row when the records have no split); with
``--evaluate`` it is also scored on the ``test`` rows (or on ``--splits`` random halves)
against the static baselines, with ``thrifty eval route``'s evaluator and report.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thrifty.eval.route.command import BUILTIN, DEFAULT_DATA
from thrifty.eval.route.records import RecordError, RouteRecord

if TYPE_CHECKING:
    from thrifty.eval.route.routers import PromptRouter
    from thrifty.eval.route.table import OutcomeTable

__all__ = ["TARGET_SHARES", "fit_router", "register"]

# Quality targets (shares of the strongest model's train quality) a router file holds
# thresholds for; the stage's ``quality_target`` picks the smallest one at or above it.
TARGET_SHARES = (0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0)


def target_names() -> dict[float, str]:
    return {share: f"{100 * share:g}%" for share in TARGET_SHARES}


def new_router(features: str, seen: dict[str, Any] | None = None) -> PromptRouter:
    """A router to fit; ``seen`` shares embeddings between routers of one data set."""
    from thrifty.eval.route.routers import PromptRouter
    from thrifty.levers.cheaper.learned.predictors import EmbeddingRouter

    if features == "minilm":
        from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder

        return EmbeddingRouter(MiniLMEmbedder(), seen)
    return PromptRouter("logreg")


def fit_router(train: OutcomeTable, router: PromptRouter) -> None:
    """Fit ``router`` on ``train`` for every target of :data:`TARGET_SHARES`."""
    level = float(train.scores[:, train.strongest()].mean())
    names = target_names()
    router.fit(train, {names[share]: share * level for share in TARGET_SHARES})


def _records(args: argparse.Namespace) -> tuple[str, list[RouteRecord]]:
    from thrifty.eval.route.datasets import load_routellm, load_routerbench
    from thrifty.eval.route.records import read_records

    if args.records is not None:
        return args.records.stem, read_records(args.records)
    family, task = args.dataset.split("/")
    if family == "routerbench":
        loaded = load_routerbench(args.data / "routerbench_subset", task)
    else:
        loaded = load_routellm(args.data / "routellm_evals", task)
    return loaded.name, loaded.records


def evaluate(
    name: str,
    records: list[RouteRecord],
    args: argparse.Namespace,
    seen: dict[str, Any] | None = None,
) -> str:
    """The table of the router against static routing on ``records``' test rows (or
    ``args.splits`` random halves); ``seen`` may hold the prompts' embeddings already."""
    from thrifty.eval.route.evaluate import SplitResult, evaluate_split, random_halves
    from thrifty.eval.route.report import DatasetRun, format_table, report_json
    from thrifty.eval.route.strategies import AlwaysModel, BestStatic, Strategy
    from thrifty.eval.route.table import OutcomeTable

    table = OutcomeTable.from_records(records)
    if {r.split for r in records} == {"train", "test"}:
        train_rows = [i for i, r in enumerate(records) if r.split == "train"]
        test_rows = [i for i, r in enumerate(records) if r.split == "test"]
        pairs = [(train_rows, test_rows)]
    else:
        pairs = [random_halves(len(records), args.seed + k) for k in range(args.splits)]
    splits: list[SplitResult] = []
    seen = {} if seen is None else seen
    for index, (train_rows, test_rows) in enumerate(pairs):
        print(f"{name}: evaluating split {index + 1}/{len(pairs)}", file=sys.stderr)
        strategies: list[Strategy] = [
            AlwaysModel("strongest"),
            BestStatic(),
            new_router(args.features, seen),
        ]
        splits.append(evaluate_split(table.subset(train_rows), table.subset(test_rows), strategies))
    return format_table(report_json([DatasetRun(name, 0, splits)]))


def run(args: argparse.Namespace) -> int:
    try:
        from thrifty.eval.route.table import OutcomeTable
        from thrifty.levers.cheaper.learned.predictors import file_from_router
        from thrifty.levers.cheaper.learned.router_file import save_router
    except ImportError as error:
        print(
            f"thrifty route train needs scikit-learn and numpy ({error.name or error}): "
            "pip install 'thrifty[learned-router]'",
            file=sys.stderr,
        )
        return 2
    if args.splits < 1:
        print("thrifty route train: --splits must be at least 1", file=sys.stderr)
        return 2
    try:
        name, records = _records(args)
        if args.evaluate:
            print(evaluate(name, records, args))
        split = {r.split for r in records}
        rows = [r for r in records if r.split == "train"] if "train" in split else records
        if len(rows) < 10:
            raise RecordError(f"{name}: too few records to train on (need 10)")
        train = OutcomeTable.from_records(rows)
        router = new_router(args.features)
        fit_router(train, router)
        trained_on: dict[str, Any] = {
            "source": name,
            "rows": len(train),
            "train_quality": dict(
                zip(train.models, train.mean_quality().round(4).tolist(), strict=True)
            ),
            "train_cost_usd": dict(
                zip(train.models, train.total_cost().round(6).tolist(), strict=True)
            ),
        }
        router_file = file_from_router(router, target_names(), trained_on)
        save_router(router_file, args.out)
    except (RecordError, OSError, ValueError) as error:
        print(f"thrifty route train: {error}", file=sys.stderr)
        return 2
    picks = ", ".join(router_file.models[c] for c in router_file.candidates)
    print(
        f"wrote {args.out}: {args.features} router over {len(router_file.models)} models "
        f"(candidates, cheapest first: {picks}; fallback: "
        f"{router_file.models[router_file.strongest]}), fitted on {len(train)} rows",
        file=sys.stderr,
    )
    return 0


def register(
    subcommands: argparse._SubParsersAction,  # type: ignore[type-arg]
    parents: Sequence[argparse.ArgumentParser] = (),
) -> None:
    """Add ``thrifty route train`` to the top-level ``subcommands``."""
    route = subcommands.add_parser(
        "route", help="the learned router: train a router file", parents=list(parents)
    )
    actions = route.add_subparsers(dest="route_command", required=True)
    train = actions.add_parser(
        "train",
        help="fit a learned router on replay records and write its file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--records", type=Path, help="JSONL records (thrifty eval route format)")
    source.add_argument("--dataset", choices=BUILTIN, help="a built-in replay data set")
    train.add_argument("--data", type=Path, default=DEFAULT_DATA, help="built-in data folder")
    train.add_argument(
        "--features",
        choices=("tfidf", "minilm"),
        default="tfidf",
        help="prompt features: TF-IDF (default; decides in well under 1 ms) or MiniLM "
        "sentence embeddings (the semantic cache's model)",
    )
    train.add_argument("--out", type=Path, required=True, help="the router file to write")
    train.add_argument(
        "--evaluate", action="store_true", help="score it on the test rows first (a table)"
    )
    train.add_argument("--splits", type=int, default=1, help="random halves without a split")
    train.add_argument("--seed", type=int, default=0, help="seed of the first random half")
    route.set_defaults(func=run)
