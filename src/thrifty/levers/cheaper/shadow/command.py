"""``thrifty shadow report | export``: what shadow evaluation found, per task.

``report`` reads the samples (``thrifty-shadow.db`` beside the ledger): per task and pair of
models, how often the served (cheaper) answer agreed with the strong model's, with its 95%
Wilson interval, and what the two models cost on the same requests.  ``export`` writes one
task's judged samples as replay records (docs/eval-route.md) to train a learned router on
your own traffic: ``thrifty route train --records FILE``.  The strong model's answer is the
reference (score 1); the served answer scores 1 when it agreed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thrifty.ledger.money import optional_pico_to_usd, usd_text
from thrifty.levers.cheaper.shadow.samples import PairSummary, ShadowSample, SqliteShadowSamples

if TYPE_CHECKING:
    from thrifty.config import Settings

__all__ = ["export_records", "pair_json", "register", "run"]


def _usd(pusd: int) -> Decimal:
    usd = optional_pico_to_usd(pusd)
    assert usd is not None
    return usd


def pair_json(pair: PairSummary) -> dict[str, Any]:
    from thrifty.levers.fewer_calls.semantic.calibration import wilson_bounds

    judged = pair.agreed + pair.disagreed
    low, high = wilson_bounds(pair.agreed, judged) if judged else (0.0, 1.0)
    comparable = pair.served_cost_unknown == 0 and pair.shadow_cost_unknown == 0
    ratio = (
        round(100 * pair.served_cost_pusd / pair.shadow_cost_pusd, 2)
        if comparable and pair.shadow_cost_pusd
        else None
    )
    return {
        "task": pair.task,
        "served_model": pair.served_model,
        "shadow_model": pair.shadow_model,
        "samples": pair.samples,
        "agreed": pair.agreed,
        "disagreed": pair.disagreed,
        "not_judged": pair.unjudged,
        "agreement": round(pair.agreed / judged, 4) if judged else None,
        "agreement_95": [round(low, 4), round(high, 4)],
        "served_cost_usd": usd_text(_usd(pair.served_cost_pusd)),
        "shadow_cost_usd": usd_text(_usd(pair.shadow_cost_pusd)),
        "judge_cost_usd": usd_text(_usd(pair.judge_cost_pusd)),
        "cost_unknown": pair.served_cost_unknown + pair.shadow_cost_unknown,
        "served_cost_pct_of_shadow": ratio,
    }


def render(pairs: Sequence[dict[str, Any]]) -> str:
    if not pairs:
        return "no shadow samples yet"
    lines = [
        f"{'task':<16} {'served -> strong':<44} {'n':>6} {'agree':>7} {'95% interval':>15}"
        f" {'cost %':>7} {'shadow $':>10}"
    ]
    for pair in pairs:
        agreement = pair["agreement"]
        shown = "-" if agreement is None else f"{100 * agreement:.1f}%"
        low, high = pair["agreement_95"]
        ratio = pair["served_cost_pct_of_shadow"]
        spend = Decimal(pair["shadow_cost_usd"]) + Decimal(pair["judge_cost_usd"])
        lines.append(
            f"{(pair['task'] or '-')[:16]:<16} "
            f"{(pair['served_model'] + ' -> ' + pair['shadow_model'])[:44]:<44} "
            f"{pair['samples']:>6} {shown:>7} {f'{100 * low:.0f}-{100 * high:.0f}%':>15}"
            f" {'-' if ratio is None else f'{ratio:.1f}':>7} {spend:>10.4f}"
        )
    lines.append(
        "agree: share of judged samples where the served answer agreed with the strong "
        "model's; cost %: the served calls' cost as % of the strong model's on the same "
        "requests; shadow $: spent on shadow calls (and the judge)."
    )
    return "\n".join(lines)


def export_records(samples: Sequence[ShadowSample], served_model: str) -> list[dict[str, Any]]:
    """Replay records from judged samples of one served model (costs known)."""
    records = []
    for sample in samples:
        if (
            sample.served_model != served_model
            or sample.agreed is None
            or sample.served_cost_pusd is None
            or sample.shadow_cost_pusd is None
        ):
            continue
        record: dict[str, Any] = {"id": sample.request_id, "prompt": sample.prompt}
        if sample.task:
            record["task"] = sample.task  # what a router trained with tasks reads
        record["outcomes"] = {
            sample.served_model: {
                "score": 1 if sample.agreed else 0,
                "response": sample.served_answer or "",
                "cost_usd": usd_text(_usd(sample.served_cost_pusd)),
            },
            sample.shadow_model: {
                "score": 1,
                "response": sample.shadow_answer or "",
                "cost_usd": usd_text(_usd(sample.shadow_cost_pusd)),
            },
        }
        records.append(record)
    return records


async def _read(path: Path, args: argparse.Namespace) -> tuple[list[PairSummary], list[Any]]:
    async with SqliteShadowSamples(path) as store:
        if args.shadow_command == "report":
            return await store.summary(since=args.since_ts, until=args.until_ts), []
        return [], await store.samples(task=args.task, since=args.since_ts, until=args.until_ts)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from thrifty.levers.cheaper.shadow.rules import samples_path

    path = samples_path(settings, settings.levers.shadow)
    if not path.exists():
        print(f"thrifty shadow: no shadow samples at {path}", file=sys.stderr)
        return 2
    pairs, samples = asyncio.run(_read(path, args))
    if args.shadow_command == "report":
        shown = [pair_json(p) for p in pairs]
        print(
            json.dumps({"samples_path": str(path), "pairs": shown}, indent=2)
            if args.json
            else render(shown)
        )
        return 0
    served = sorted({s.served_model for s in samples})
    model = args.served_model or (served[0] if len(served) == 1 else None)
    if model is None:
        listed = ", ".join(served) or "none"
        print(
            f"thrifty shadow export: name the served model (--served-model): {listed}",
            file=sys.stderr,
        )
        return 2
    records = export_records(samples, model)
    with args.out.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} records to {args.out}", file=sys.stderr)
    return 0


def register(
    subcommands: argparse._SubParsersAction,  # type: ignore[type-arg]
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    """Add ``thrifty shadow report | export`` to the top-level ``subcommands``."""
    shadow: argparse.ArgumentParser = subcommands.add_parser(
        "shadow",
        help="shadow evaluation: agreement per task, samples as records",
        parents=list(parents),
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--ledger", help="ledger path; the samples live next to it")
    common.add_argument("--since", help="first day, YYYY-MM-DD (UTC)")
    common.add_argument("--until", help="day after the last, YYYY-MM-DD (UTC)")
    actions = shadow.add_subparsers(dest="shadow_command", required=True)
    report = actions.add_parser(
        "report", help="agreement and costs per task and model pair", parents=[common]
    )
    report.add_argument("--json", action="store_true", help="machine-readable output")
    export = actions.add_parser(
        "export", help="judged samples as replay records (JSONL)", parents=[common]
    )
    export.add_argument("--task", help="one task's samples")
    export.add_argument("--served-model", help="the served model (when there are several)")
    export.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    return shadow
