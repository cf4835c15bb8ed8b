"""``thrifty eval route``: replay routing strategies and cascades on recorded outcomes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from thrifty.eval.route.records import RecordError, RouteRecord

DEFAULT_DATA = Path("../shared/data")
BUILTIN = (
    "routerbench/arc_challenge",
    "routerbench/mbpp",
    "routerbench/winograde",
    "routellm/gsm8k",
    "routellm/mmlu",
)
DESCRIPTION = """\
Replay evaluation of routing strategies: every strategy is fitted on the train rows and
scored on the test rows against always-strongest, always-cheapest, random routing, the best
static model and the perfect-router bound.  Headline: the cost to reach the strongest
model's test quality, as a % of always calling it (cascades pay every call).

Built-in data sets (under --data): routerbench/{arc_challenge,mbpp,winograde} (given
train/test files) and routellm/{gsm8k,mmlu} (random train/test halves, --splits of them).

Your own records (--records FILE.jsonl), one JSON object per line:

  {"id": "q1", "prompt": "...", "split": "train", "task": "qa",
   "outcomes": {"small": {"score": 0, "response": "...", "cost_usd": "0.0001"},
                "large": {"score": 1, "response": "...",
                          "input_tokens": 12, "output_tokens": 3}}}

score: correctness or quality in [0, 1] (required).  Cost: cost_usd, or input_tokens and
output_tokens priced from thrifty's price table.  response: optional answer text (cascades
read it).  split: optional "train"/"test"; without it, --splits random halves are used.
task: optional, the task name the app sends as x-thrifty-task (routers may read it).
Every record names the same models (at least two).  See docs/eval-route.md.
"""


def register(eval_subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``route`` to the ``thrifty eval`` subcommands."""
    parser = eval_subcommands.add_parser(
        "route",
        help="replay routing strategies and cascades on recorded multi-model outcomes",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="folder holding routerbench_subset/ and routellm_evals/ (default: ../shared/data)",
    )
    parser.add_argument(
        "--dataset",
        action="append",
        choices=BUILTIN,
        dest="datasets",
        help="a built-in data set (repeatable; default: all)",
    )
    parser.add_argument(
        "--records",
        type=Path,
        action="append",
        default=[],
        help="your own JSONL records (repeatable); then no built-in set runs "
        "unless --dataset names it",
    )
    parser.add_argument(
        "--splits",
        type=int,
        default=10,
        help="random train/test halves for data without a split (default 10)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first random half")
    parser.add_argument("--json", action="store_true", help="print the JSON document")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="write the frontier plot")
    parser.add_argument(
        "--fit-cascade",
        metavar="CHEAP_MODEL",
        action="append",
        help="instead of evaluating: fit the cascade's learned scorer for CHEAP_MODEL's answers "
        "(give it twice for two cheap models called together), escalating to the strongest "
        "model, and write it to --out (docs/levers/cheaper-tokens.md)",
    )
    parser.add_argument(
        "--target-quality",
        type=float,
        action="append",
        help="with --fit-cascade: a quality target, a share of the strongest model's "
        "(repeatable; default 0.95)",
    )
    parser.add_argument("--out", type=Path, default=Path("cascade.json"), help="the scorer file")
    parser.set_defaults(handler=run)


def _load(args: argparse.Namespace) -> list[tuple[str, list[RouteRecord], int]]:
    from thrifty.eval.route.datasets import load_routellm, load_routerbench
    from thrifty.eval.route.records import read_records

    sets: list[tuple[str, list[RouteRecord], int]] = []
    for path in args.records:
        sets.append((path.stem, read_records(path), 0))
    names = args.datasets or ([] if args.records else list(BUILTIN))
    for name in names:
        family, task = name.split("/")
        if family == "routerbench":
            loaded = load_routerbench(args.data / "routerbench_subset", task)
        else:
            loaded = load_routellm(args.data / "routellm_evals", task)
        sets.append((loaded.name, loaded.records, loaded.dropped))
    return sets


def evaluate_records(
    name: str,
    records: Sequence[RouteRecord],
    dropped: int,
    splits: int,
    seed: int,
    progress: Callable[[str], None],
) -> object:
    """Run every default strategy on one set of records (given split, or random halves)."""
    from thrifty.eval.route.evaluate import default_strategies, evaluate_split, random_halves
    from thrifty.eval.route.report import DatasetRun
    from thrifty.eval.route.table import OutcomeTable

    given = {r.split for r in records}
    if given == {"train", "test"}:
        train = OutcomeTable.from_records([r for r in records if r.split == "train"])
        test = OutcomeTable.from_records([r for r in records if r.split == "test"], train.models)
        pairs = [(train, test)]
    elif given == {None}:
        table = OutcomeTable.from_records(records)
        pairs = []
        for index in range(splits):
            first, second = random_halves(len(table), seed + index)
            pairs.append((table.subset(first), table.subset(second)))
    else:
        raise RecordError(f"{name}: give every record a split (train and test both), or none")
    if min(len(train) for train, _ in pairs) < 10 or min(len(test) for _, test in pairs) < 2:
        raise RecordError(f"{name}: too few records (need 10 to train and 2 to test)")
    results = []
    for index, (train, test) in enumerate(pairs):
        progress(f"{name} split {index + 1}/{len(pairs)}")
        results.append(evaluate_split(train, test, default_strategies(train)))
    return DatasetRun(name, dropped, results)


def run(args: argparse.Namespace) -> int:
    try:
        from thrifty.eval.route.evaluate import default_strategies  # noqa: F401
        from thrifty.eval.route.report import DatasetRun, format_table, report_json
    except ImportError as error:
        print(
            f"thrifty eval route needs the eval-route extra ({error.name or error}): "
            "pip install 'thrifty[eval-route]'",
            file=sys.stderr,
        )
        return 2
    if args.splits < 1:
        print("thrifty eval route: --splits must be at least 1", file=sys.stderr)
        return 2
    if args.fit_cascade:
        from thrifty.levers.cheaper.cascade.fit import run_fit

        try:
            record_sets = [records for _, records, _ in _load(args)]
        except (RecordError, OSError, ValueError) as error:
            print(f"thrifty eval route: {error}", file=sys.stderr)
            return 2
        return run_fit(args, record_sets)
    try:
        runs = []
        for name, records, dropped in _load(args):
            dataset_run = evaluate_records(
                name,
                records,
                dropped,
                args.splits,
                args.seed,
                lambda message: print(message, file=sys.stderr),
            )
            assert isinstance(dataset_run, DatasetRun)
            runs.append(dataset_run)
    except (RecordError, OSError, ValueError) as error:
        print(f"thrifty eval route: {error}", file=sys.stderr)
        return 2
    document = report_json(runs)
    if args.plot:
        from thrifty.eval.route.plot import write_plot

        write_plot(document, args.plot)
    print(json.dumps(document, indent=2) if args.json else format_table(document))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="thrifty eval")
    register(parser.add_subparsers(dest="eval_command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))
