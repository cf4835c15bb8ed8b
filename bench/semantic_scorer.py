"""Semantic cache: what the pair scorer adds to a lookup's decision, against the decision
with a cosine threshold, measured in the same run.

    thrifty eval cache --limit 2000 --strategy scorer --save /tmp/scorer-table.json
    .venv/bin/python bench/semantic_scorer.py --table /tmp/scorer-table.json [--pairs 2000]

Both decide one candidate for each (cached, new) question pair of the Quora file (the
first ``--pairs`` pairs; made-up questions when the file is absent), in turn, round after
round, so a busy machine slows them alike.  The figure is the CPU time per decision
(p50 over rounds, microseconds): ``cosine`` (the guards, then a cosine threshold) and
``scorer`` (the guards, then the scorer of ``--table``), both on texts whose words were
read before (the guards and the scorer keep the words of the last 4,096 texts), and the
scorer alone on texts never read (``scorer, cold``).  The embedding, the same for both,
is not measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from thrifty.eval.cache.command import default_pairs
from thrifty.eval.cache.pairs import load_pairs
from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder
from thrifty.levers.fewer_calls.semantic.features import words_of
from thrifty.levers.fewer_calls.semantic.guards import features
from thrifty.levers.fewer_calls.semantic.policy import Policy, decide
from thrifty.levers.fewer_calls.semantic.store import Entry
from thrifty.levers.fewer_calls.semantic.table import SHIPPED_TABLE, load_calibration
from thrifty.types import Usage


def question_pairs(count: int) -> list[tuple[str, str]]:
    path = default_pairs()
    if path.exists():
        return [(p.text_a, p.text_b) for p in load_pairs(path, count)]
    topics = ["python", "cooking", "chess", "tax returns", "guitar", "french"]
    return [
        (
            f"How do I learn {topics[i % 6]} fast, case {i}?",
            f"What is the quickest way to learn {topics[i % 6]}?",
        )
        for i in range(count)
    ]


def entry(query: str) -> Entry:
    vector = np.zeros(2, np.float32)
    return Entry(1, "p", query, vector, "openai", "m", {}, Usage(), 0.0)


def run(count: int, rounds: int, path: Path = SHIPPED_TABLE) -> dict[str, Any]:
    table = load_calibration(path, MiniLMEmbedder.model_id)
    if table.scorer is None:
        raise SystemExit(f"{path} has no scorer")
    scorer = table.scorer
    pairs = [(entry(a), b) for a, b in question_pairs(count)]
    policies = {
        "cosine": Policy(0.95, 0.0, 0.0),
        "scorer": Policy(0.5, 0.0, 0.0, scorer),
    }
    timings: dict[str, list[float]] = {name: [] for name in [*policies, "scorer, cold"]}
    for _ in range(rounds):
        words_of.cache_clear()
        features.cache_clear()
        started = time.process_time()
        for cached, query in pairs:
            scorer.score(cached.query, query, 0.97)
        timings["scorer, cold"].append((time.process_time() - started) / len(pairs))
        for cached, query in pairs:  # the guards' view of each text, as the scorer's is
            decide([(cached, 0.97)], query, policies["cosine"], lambda: 1.0)
        for name, policy in policies.items():
            started = time.process_time()
            for cached, query in pairs:
                decide([(cached, 0.97)], query, policy, lambda: 1.0)
            timings[name].append((time.process_time() - started) / len(pairs))
    p50 = {name: statistics.median(values) * 1e6 for name, values in timings.items()}
    return {
        "pairs": len(pairs),
        "rounds": rounds,
        "cpu_us_per_decision_p50": p50,
        "ratio_to_cosine": {name: p50[name] / p50["cosine"] for name in p50},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--table", type=Path, default=SHIPPED_TABLE, help="a calibration table")
    args = parser.parse_args()
    result = run(args.pairs, args.rounds, args.table)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
