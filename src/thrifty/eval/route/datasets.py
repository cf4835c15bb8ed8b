"""Adapters: the two shared replay data sets as :class:`RouteRecord` lists.

* ``routerbench_subset/<task>_{train,test}.csv`` (RouterBench as split by RouterDC): 11 models,
  a correctness column, ``|model_response`` and ``|total_cost`` (USD) per model.  Rows where
  any model's correctness is empty are dropped (their number is reported).  The task is the
  row's ``eval_name`` (one per file).
* ``routellm_evals/{gsm8k,mmlu}`` (RouteLLM): GPT-4 vs Mixtral correctness booleans, response
  text for GSM8K only, no costs.  Contaminated prompts (``eval_prompt`` of
  ``contaminated_prompts.jsonl``) are dropped.  Costs are priced with the
  :class:`~thrifty.pricing.PriceBook` from estimated token counts: ``ceil(chars / 4)`` for the
  prompt and the response (no local tokenizer exists for Mixtral); MMLU has no response text,
  so its answer counts :data:`MMLU_ANSWER_TOKENS` tokens.  These records have no split: the
  evaluator draws random halves.  The task is the MMLU subject (from the file name:
  ``mmlu_anatomy.csv`` is ``anatomy``), or ``gsm8k``.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from thrifty.eval.route.records import ModelOutcome, RecordError, RouteRecord, token_cost
from thrifty.pricing import PriceBook

ROUTERBENCH_TASKS = ("arc_challenge", "mbpp", "winograde")
ROUTELLM_TASKS = ("gsm8k", "mmlu")
ROUTELLM_STRONG = "gpt-4-1106-preview"
ROUTELLM_WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
# The PriceBook's name for a RouteLLM model whose own name it does not know.
PRICE_NAMES = {ROUTELLM_WEAK: "mixtral-8x7b-instruct"}
CHARS_PER_TOKEN = 4
MMLU_ANSWER_TOKENS = 1
TASK_KEY = "\x00task"  # the loader's own key in a row (no CSV header holds a NUL)
_NOT_MODELS = frozenset({"", "sample_id", "prompt", "eval_name", "oracle_model_to_route_to"})


@dataclass(frozen=True)
class LoadedSet:
    """One data set's records and how many rows were dropped, and why."""

    name: str
    records: list[RouteRecord]
    dropped: int = 0
    dropped_reason: str = ""


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def _csv_rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _unwrap_list(text: str) -> str:
    """RouterBench stores prompts and responses as Python-list strings: ``"['A']"``."""
    if text.startswith("[") and text.endswith("]"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "\n".join(value)
    return text


def routerbench_records(path: Path, split: str) -> tuple[list[RouteRecord], int]:
    """One RouterBench CSV file; returns the records and how many rows were dropped."""
    rows = _csv_rows(path)
    if not rows:
        raise RecordError(f"{path}: no rows")
    models = [k for k in rows[0] if k not in _NOT_MODELS and "|" not in k]
    for model in models:
        if f"{model}|total_cost" not in rows[0]:
            raise RecordError(f"{path}: no {model}|total_cost column")
    records: list[RouteRecord] = []
    dropped = 0
    for number, row in enumerate(rows, start=1):
        if any(row[m].strip() == "" for m in models):
            dropped += 1
            continue
        try:
            outcomes = {
                m: ModelOutcome(
                    float(row[m]),
                    _decimal_cost(row[f"{m}|total_cost"]),
                    _unwrap_list(row.get(f"{m}|model_response", "")),
                )
                for m in models
            }
        except ValueError as error:
            raise RecordError(f"{path}: row {number}: {error}") from None
        record_id = row.get("sample_id") or f"{path.stem}.{number}"
        task = row.get("eval_name") or None
        prompt = _unwrap_list(row["prompt"])
        records.append(RouteRecord(record_id, prompt, outcomes, split, task))
    return records, dropped


def _decimal_cost(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"bad cost {text!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"bad cost {text!r}")
    return value


def load_routerbench(root: Path, task: str) -> LoadedSet:
    train, dropped_train = routerbench_records(root / f"{task}_train.csv", "train")
    test, dropped_test = routerbench_records(root / f"{task}_test.csv", "test")
    return LoadedSet(
        f"routerbench/{task}",
        train + test,
        dropped_train + dropped_test,
        "a model's correctness is missing",
    )


def mmlu_subject(path: Path) -> str:
    """The MMLU subject of a response file: ``mmlu_anatomy.csv`` -> ``anatomy``."""
    return path.stem.removeprefix("mmlu_")


def _contaminated(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with path.open(encoding="utf-8") as lines:
        return {json.loads(line)["eval_prompt"] for line in lines if line.strip()}


def _bool(text: str) -> float:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise RecordError(f"correctness must be True or False, got {text!r}")
    return 1.0 if value == "true" else 0.0


def routellm_records(
    rows: list[dict[str, str]], name: str, book: PriceBook, with_text: bool
) -> list[RouteRecord]:
    """Records of RouteLLM rows; a row's task is its ``task`` entry (added by the loader),
    else ``name``."""
    records = []
    for number, row in enumerate(rows, start=1):
        prompt = row["prompt"]
        outcomes = {}
        for model in (ROUTELLM_WEAK, ROUTELLM_STRONG):
            text = row.get(f"{model}_response", "") if with_text else ""
            output = estimate_tokens(text) if with_text else MMLU_ANSWER_TOKENS
            cost = token_cost(book, model, estimate_tokens(prompt), output, PRICE_NAMES.get(model))
            outcomes[model] = ModelOutcome(_bool(row[model]), cost, text or None)
        task = row.get(TASK_KEY) or name
        records.append(RouteRecord(f"{name}.{number}", prompt, outcomes, None, task))
    return records


def load_routellm(root: Path, task: str, book: PriceBook | None = None) -> LoadedSet:
    book = book or PriceBook()
    folder = root / task
    if task == "gsm8k":
        rows = _csv_rows(folder / "gsm8k_responses.csv")
    elif task == "mmlu":
        rows = [
            {**row, TASK_KEY: mmlu_subject(f)}
            for f in sorted((folder / "responses").glob("*.csv"))
            for row in _csv_rows(f)
        ]
    else:
        raise RecordError(f"unknown RouteLLM task {task!r}")
    if not rows:
        raise RecordError(f"{folder}: no rows")
    bad = _contaminated(folder / "contaminated_prompts.jsonl")
    kept = [row for row in rows if row["prompt"] not in bad]
    records = routellm_records(kept, task, book, with_text=task == "gsm8k")
    return LoadedSet(f"routellm/{task}", records, len(rows) - len(kept), "contaminated prompt")
