"""``thrifty batch estimate | submit | status | results | cancel`` (docs/batch.md).

* ``estimate FILE``: interactive vs batch cost before anything is sent, unpriced and
  rejected lines named (no network);
* ``submit FILE``: rejected lines reported on stderr (line, custom id, why), the valid ones
  queued and their provider jobs created; prints the submission id.  ``--wait`` follows
  them to the end in this process;
* ``status ID``: one poll of the provider jobs (results collected and booked), then a
  progress bar; ``--wait`` polls until every item is final;
* ``results ID``: JSONL in input order, one line per item with its ``custom_id``;
* ``cancel ID``: queued items cancelled at once, provider jobs cancelled.

The queue is ``[batch] path`` (default next to the ledger).  Without provider keys the
runtime uses its in-process simulator, which forgets its jobs when the command ends: use
``--wait``, or run ``thrifty sim`` and point ``openai_base_url`` / ``anthropic_base_url``
at it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from thrifty.errors import ThriftyError

if TYPE_CHECKING:
    from thrifty.batch import Batches, BatchHandle, Status
    from thrifty.config import Settings

__all__ = ["add_parser", "progress_bar", "run"]
BAR_WIDTH = 30


def progress_bar(status: Status) -> str:
    done = status.finished
    share = done / status.total if status.total else 1.0
    filled = round(share * BAR_WIDTH)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(status.counts.items()) if v)
    return (
        f"{status.submission_id} {status.state} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}]"
        f" {share:4.0%} {done}/{status.total} ({counts})"
    )


def _read_lines(path: str) -> list[bytes]:
    if path == "-":
        return sys.stdin.buffer.read().splitlines()
    file = Path(path)
    if not file.is_file():
        raise ThriftyError(f"no such file: {path}")
    return file.read_bytes().splitlines()


def _estimate(args: argparse.Namespace, settings: Settings) -> int:
    from thrifty.batch import estimate
    from thrifty.dispatch import build_registry
    from thrifty.pricing import PriceBook
    from thrifty.providers import HttpPool

    registry = build_registry(settings, HttpPool(), {}, simulator_url=None)

    def provider_of(model: str) -> tuple[str, Any] | None:
        upstream = registry.find(model)
        return None if upstream is None else (upstream.name, upstream.settings.dialect)

    def price_provider(model: str) -> str | None:
        upstream = registry.find(model)
        return None if upstream is None else upstream.price_provider

    from thrifty.batch.lines import parse_lines

    parsed = parse_lines(_read_lines(args.file), provider_of)
    found = estimate(
        parsed, PriceBook(settings.prices), price_provider, assumed_output_tokens=args.output_tokens
    )
    print(json.dumps(found.to_json(), indent=2) if args.json else found.render())
    return 0


def _report_rejected(report: str, out: TextIO) -> None:
    if report:
        print("rejected lines (not submitted):", file=out)
        print(report, file=out)


async def _with_batches(settings: Settings, work: Callable[[Batches], Awaitable[int]]) -> int:
    from thrifty.batch import Batches
    from thrifty.runtime import Thrifty

    async with Thrifty(settings) as thrifty, Batches.of(thrifty) as batches:
        return await work(batches)


async def _follow(handle: BatchHandle, interval: float, out: TextIO) -> None:
    """Poll until done, redrawing the progress bar."""
    while True:
        status = await handle.poll()
        print("\r" + progress_bar(status), end="", file=out, flush=True)
        if status.complete:
            print(file=out)
            return
        await asyncio.sleep(interval)


def run(args: argparse.Namespace, settings: Settings) -> int:
    action = args.batch_command
    if action == "estimate":
        return _estimate(args, settings)
    interval = settings.batch.poll_interval_s

    async def submit(batches: Batches) -> int:
        submitted = await batches.submit(_read_lines(args.file), task=args.task, tenant=args.tenant)
        _report_rejected(submitted.report(), sys.stderr)
        if submitted.handle is None:
            print("nothing to submit: every line was rejected", file=sys.stderr)
            return 1
        await batches.runner.step()  # create the provider jobs now
        print(submitted.handle.id)
        if batches.simulated and not args.wait:
            print(
                "note: the built-in simulator ran these jobs and stops with this command; "
                "use --wait, or run `thrifty sim` and point the base URLs at it",
                file=sys.stderr,
            )
        if args.wait:
            await _follow(submitted.handle, interval, sys.stderr)
        return 0

    async def status(batches: Batches) -> int:
        handle = batches.handle(args.id)
        if args.wait:
            await _follow(handle, interval, sys.stdout)
            return 0
        found = await handle.poll()
        print(json.dumps(found.to_json()) if args.json else progress_bar(found))
        return 0

    async def results(batches: Batches) -> int:
        from thrifty.batch import result_line

        handle = batches.handle(args.id)
        out = sys.stdout.buffer
        for item in handle.results():
            out.write(orjson.dumps(result_line(item)) + b"\n")
        out.flush()
        return 0

    async def cancel(batches: Batches) -> int:
        found = await batches.handle(args.id).cancel()
        print(progress_bar(found))
        return 0

    actions = {"submit": submit, "status": status, "results": results, "cancel": cancel}
    return asyncio.run(_with_batches(settings, actions[action]))


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    batch: argparse.ArgumentParser = sub.add_parser(
        "batch",
        help="deferred requests through the providers' Batch APIs (half price)",
        parents=parents,
    )
    batch.add_argument("--ledger", help="ledger path; the batch queue lives next to it")
    actions = batch.add_subparsers(dest="batch_command", required=True)
    estimate = actions.add_parser(
        "estimate", help="interactive vs batch cost, nothing sent", parents=parents
    )
    estimate.add_argument("file", help="JSONL requests ('-': stdin)")
    estimate.add_argument(
        "--output-tokens",
        type=int,
        default=300,
        help="output tokens assumed per line (its max_tokens if lower; default 300)",
    )
    estimate.add_argument("--json", action="store_true", help="machine-readable output")
    submit = actions.add_parser(
        "submit", help="queue a JSONL file and create its jobs", parents=parents
    )
    submit.add_argument("file", help="JSONL requests ('-': stdin)")
    submit.add_argument("--task", help="the task its rows are booked under")
    submit.add_argument("--tenant", help="the tenant its rows are booked under")
    submit.add_argument("--wait", action="store_true", help="follow the jobs to the end")
    status = actions.add_parser("status", help="poll once and show progress", parents=parents)
    status.add_argument("id")
    status.add_argument("--wait", action="store_true", help="poll until every item is final")
    status.add_argument("--json", action="store_true")
    results = actions.add_parser("results", help="JSONL results in input order", parents=parents)
    results.add_argument("id")
    cancel = actions.add_parser("cancel", help="cancel what is not done", parents=parents)
    cancel.add_argument("id")
    return batch
