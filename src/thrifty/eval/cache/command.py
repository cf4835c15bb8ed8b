"""``thrifty eval cache``: calibrate the semantic cache on one half of labelled pairs and
measure it on the other (docs/semantic-cache.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from thrifty.errors import ConfigError
from thrifty.levers.fewer_calls.semantic.models import DEFAULT_MODEL, MODELS

__all__ = ["register", "run"]

QQP = Path("data/gptcache_similar_queries/qqp_labeled_pairs.jsonl")
DEFAULT_TARGETS = (0.02, 0.05)
SPEED_INDEX_ENTRIES = 100_000


def default_pairs() -> Path:
    """Quora Question Pairs in the ``shared`` folder beside the working directory or beside
    the repository this module runs from."""
    repository = Path(__file__).resolve().parents[4]
    for shared in (Path.cwd().parent / "shared", repository.parent / "shared"):
        if (shared / QQP).exists():
            return shared / QQP
    return Path.cwd().parent / "shared" / QQP


def register(subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subcommands.add_parser(
        "cache",
        help="calibrate and measure the semantic cache on labelled query pairs",
        description=__doc__,
    )
    parser.add_argument(
        "--pairs",
        type=Path,
        help='JSON Lines of {"id", "text_a", "text_b", "label"} (default: Quora Question '
        "Pairs in ../shared/data/gptcache_similar_queries)",
    )
    parser.add_argument("--limit", type=int, help="only the first N pairs (a quick run)")
    parser.add_argument(
        "--targets",
        default=",".join(str(t) for t in DEFAULT_TARGETS),
        help="target false-hit rates, comma separated (default 0.02,0.05)",
    )
    parser.add_argument(
        "--strategy",
        choices=("scorer", "guarded"),
        default="guarded",
        help="what the targets' rows and --save hold: the guards and a cosine threshold "
        "(default), or the guards and a pair scorer fitted on the calibration pairs",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--plot", type=Path, help="write the precision/recall curves (PNG)")
    parser.add_argument(
        "--save",
        type=Path,
        help="write the calibrated thresholds ([levers.semantic_cache] "
        "calibration_path reads this file)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path.home() / ".cache" / "thrifty-eval",
        help="where embeddings are kept between runs (default ~/.cache/thrifty-eval)",
    )
    parser.add_argument("--threads", type=int, default=1, help="embedding threads (default 1)")
    parser.add_argument(
        "--model",
        choices=tuple(MODELS),
        default=DEFAULT_MODEL,
        help=f"the embedding model ([levers.semantic_cache] model; default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--speed-entries",
        type=int,
        default=SPEED_INDEX_ENTRIES,
        help="index size for the lookup latency figure (default 100000; 0 skips it)",
    )
    parser.set_defaults(handler=run)


def _targets(text: str) -> list[float]:
    try:
        targets = sorted({float(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise ConfigError(f"--targets: not a list of rates: {text!r}") from None
    if not targets or not all(0 < t < 1 for t in targets):
        raise ConfigError("--targets: each rate is within (0, 1), e.g. 0.02,0.05")
    return targets


def _progress(done: int, total: int) -> None:
    """About every 10% (every batch on a terminal)."""
    step = max(1, total // 10)
    if sys.stderr.isatty():
        print(f"\rembedding {done}/{total}", end="" if done < total else "\n", file=sys.stderr)
    elif done == total or done // step != (done - 64) // step:
        print(f"embedding {done}/{total}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from thrifty.eval.cache import evaluate
    from thrifty.eval.cache.pairs import load_pairs, split_of
    from thrifty.eval.cache.render import render_table, write_plot
    from thrifty.eval.cache.swaps import swap_set
    from thrifty.eval.cache.vectors import embed_texts
    from thrifty.eval.cache.whole_cache import lookup_speed, whole_cache
    from thrifty.levers.fewer_calls.semantic.embedder import EmbedderUnavailable
    from thrifty.levers.fewer_calls.semantic.models import make_embedder
    from thrifty.levers.fewer_calls.semantic.table import dump_table

    targets = _targets(args.targets)
    if args.limit is not None and args.limit <= 0:
        raise ConfigError("--limit must be a positive number of pairs")
    path = args.pairs or default_pairs()
    pairs = load_pairs(path, args.limit)
    embedder = make_embedder(args.model, args.threads)
    texts = list(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)))
    progress = None if args.json else _progress
    try:
        vectors = embed_texts(embedder, texts, args.cache_dir, progress=progress)
    except EmbedderUnavailable as exc:
        raise ConfigError(f"--model {args.model}: {exc}") from exc
    by_text = dict(zip(texts, vectors, strict=True))
    scored = evaluate.score_pairs(pairs, by_text)
    report = evaluate.measure(
        scored, targets, min_hits=min(30, max(1, len(pairs) // 20)), strategy=args.strategy
    )
    held_out = [p for p in pairs if split_of(p.id) == "held_out"]
    swapped = list(dict.fromkeys(pair.text_b for pair, _ in swap_set(held_out)))
    swapped = [text for text in swapped if text not in by_text]
    by_text.update(zip(swapped, embed_texts(embedder, swapped, args.cache_dir), strict=True))
    report.swap = evaluate.swap_figures(held_out, by_text, report.thresholds, report.scorer)
    report.whole_cache = whole_cache(held_out, by_text, report.thresholds, report.scorer)
    if args.speed_entries > 0:
        queries = [p.text_b for p in held_out]
        report.speed = lookup_speed(embedder, queries, args.speed_entries)
    summary = _summary(report, path, embedder.model_id)
    if args.save is not None:
        args.save.write_bytes(dump_table(embedder.model_id, report.thresholds, report.scorer))
    if args.plot is not None:
        write_plot(report, args.plot)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(render_table(summary))
    return 0


def _summary(report: Any, path: Path, model_id: str) -> dict[str, Any]:
    return {
        "pairs_file": str(path),
        "model_id": model_id,
        "pairs": report.pairs,
        "split": "by the parity of the first byte of sha256(id): even = calibration; "
        "calibration pairs whose second byte is 0 mod 4 fit the scorer",
        "calibration_pairs": report.calibration_pairs,
        "fit_pairs": report.fit_pairs,
        "held_out_pairs": report.held_out_pairs,
        "strategy": report.strategy,
        "targets": report.targets,
        "precision_at_recall": report.precision_at_recall,
        "swap_set": report.swap,
        "whole_cache": report.whole_cache,
        "lookup_speed": report.speed,
        "label_noise": report.label_noise,
        "curve": {name: [o.as_json() for o in c] for name, c in report.curves.items()},
        "thresholds": {f"{t:g}": v for t, v in report.thresholds.items()},
        "guarded_cosine_thresholds": {f"{t:g}": v for t, v in report.guarded_thresholds.items()},
    }
