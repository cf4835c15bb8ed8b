"""Synthetic replay records whose right answers are known, and helpers to write them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.eval.route.records import ModelOutcome, RouteRecord

COSTS = {"small": Decimal("0.001"), "medium": Decimal("0.003"), "large": Decimal("0.010")}


def synthetic_records(n: int, split: str | None = None, offset: int = 0) -> list[RouteRecord]:
    """Easy prompts (mention "easy"): every model is right.  Hard prompts: only ``large`` is
    right, and ``small``/``medium`` disagree with each other (B vs C) while ``large`` says A."""
    records = []
    for k in range(offset, offset + n):
        hard = k % 3 == 0
        topic = "hard proof of theorem" if hard else "easy sum of numbers"
        prompt = f"{topic} number {k}"
        answers = {"small": "B", "medium": "C", "large": "A"} if hard else dict.fromkeys(COSTS, "A")
        outcomes = {
            m: ModelOutcome(
                1.0 if answers[m] == "A" else 0.0, COSTS[m], f"I think the answer is {answers[m]}"
            )
            for m in COSTS
        }
        records.append(RouteRecord(f"q{k}", prompt, outcomes, split))
    return records


def jsonl(path: Path, objects: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


@pytest.fixture
def split_records() -> list[RouteRecord]:
    return synthetic_records(90, "train") + synthetic_records(45, "test", offset=1000)
