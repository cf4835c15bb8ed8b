"""The replay record: one query, and what each model answered, how well, and at what cost.

One JSON object per line (JSONL)::

    {"id": "q1",                      # optional, any string (default: the line number)
     "prompt": "What is 2+2?",        # required, the text a router may read
     "split": "train",                # optional: "train" or "test" (else a random half)
     "task": "arithmetic",            # optional: the task the app names (x-thrifty-task)
     "outcomes": {                    # required, at least two models
       "small-model": {"score": 0,          # required, correctness or quality in [0, 1]
                       "response": "5",     # optional, the answer text (cascades read it)
                       "cost_usd": "0.0001"},  # the call's cost in US dollars, or instead:
       "big-model":   {"score": 1, "response": "4",
                       "input_tokens": 12, "output_tokens": 3}}}  # priced by the PriceBook

A cost is either ``cost_usd`` (a string or number) or token counts priced with thrifty's
:class:`~thrifty.pricing.PriceBook` (a model it cannot price is an error naming the model).
Every record must have the same set of models.  ``task`` is what a thrifty app sends as
``x-thrifty-task``: seen at run time, so a strategy may read it (it is not a label).  Labels
(``score``) are what the evaluator scores strategies with; strategies never see them at
decision time (see ``table.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from thrifty.pricing import PriceBook
from thrifty.types import Usage

SPLITS = ("train", "test")
MAX_PROMPT_CHARS = 1_000_000
MAX_RESPONSE_CHARS = 1_000_000
MAX_MODELS = 64
MAX_COST_USD = Decimal(1000)
MAX_TASK_CHARS = 256


class RecordError(ValueError):
    """A replay record that does not follow the documented format."""


@dataclass(frozen=True, slots=True)
class ModelOutcome:
    """What one model did on one query: its score in [0, 1], its answer, its cost."""

    score: float
    cost_usd: Decimal
    response: str | None = None


@dataclass(frozen=True, slots=True)
class RouteRecord:
    """One query with every model's outcome; ``split`` is ``None`` when the file leaves the
    split to the evaluator."""

    id: str
    prompt: str
    outcomes: Mapping[str, ModelOutcome]
    split: str | None = None
    task: str | None = None  # the app's task name: seen at run time, not a label


def token_cost(
    book: PriceBook, model: str, input_tokens: int, output_tokens: int, price_as: str | None = None
) -> Decimal:
    """The cost of one call priced by ``book`` (``price_as``: the name to look up instead)."""
    cost = book.cost(
        Usage(input_tokens=input_tokens, output_tokens=output_tokens), price_as or model
    )
    if cost.usd is None:
        raise RecordError(f"no price known for model {model!r}: give cost_usd in the records")
    return cost.usd


def _score(model: str, raw: object) -> float:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if not isinstance(raw, int | float) or not math.isfinite(raw) or not 0 <= raw <= 1:
        raise RecordError(f"{model}: score must be a number in [0, 1], got {raw!r}")
    return float(raw)


def _cost(model: str, fields: Mapping[str, object], book: PriceBook) -> Decimal:
    if "cost_usd" in fields:
        raw = fields["cost_usd"]
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise RecordError(f"{model}: cost_usd must be a number or a decimal string")
        try:
            usd = Decimal(str(raw))
        except InvalidOperation:
            raise RecordError(f"{model}: cost_usd {raw!r} is not a number") from None
        if not usd.is_finite() or not Decimal(0) <= usd <= MAX_COST_USD:
            raise RecordError(f"{model}: cost_usd must be in [0, {MAX_COST_USD}], got {raw!r}")
        return usd
    tokens = [fields.get("input_tokens"), fields.get("output_tokens")]
    counts = [t for t in tokens if isinstance(t, int) and not isinstance(t, bool) and t >= 0]
    if len(counts) != 2:
        raise RecordError(f"{model}: give cost_usd, or input_tokens and output_tokens (ints >= 0)")
    return token_cost(book, model, counts[0], counts[1])


def _outcome(model: str, fields: object, book: PriceBook) -> ModelOutcome:
    if not isinstance(fields, dict):
        raise RecordError(f"{model}: an outcome must be an object")
    if "score" not in fields:
        raise RecordError(f"{model}: missing score")
    response = fields.get("response")
    if response is not None and not isinstance(response, str):
        raise RecordError(f"{model}: response must be a string")
    if response is not None and len(response) > MAX_RESPONSE_CHARS:
        raise RecordError(f"{model}: response longer than {MAX_RESPONSE_CHARS} characters")
    return ModelOutcome(_score(model, fields["score"]), _cost(model, fields, book), response)


def parse_record(obj: object, default_id: str, book: PriceBook) -> RouteRecord:
    """One record from its decoded JSON object (raises :class:`RecordError`)."""
    if not isinstance(obj, dict):
        raise RecordError("a record must be a JSON object")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt or len(prompt) > MAX_PROMPT_CHARS:
        raise RecordError(f"prompt must be a non-empty string of at most {MAX_PROMPT_CHARS} chars")
    split = obj.get("split")
    if split is not None and split not in SPLITS:
        raise RecordError(f"split must be one of {SPLITS}, got {split!r}")
    task = obj.get("task")
    if task is not None and (not isinstance(task, str) or not 0 < len(task) <= MAX_TASK_CHARS):
        raise RecordError(f"task must be a non-empty string of at most {MAX_TASK_CHARS} chars")
    outcomes = obj.get("outcomes")
    if not isinstance(outcomes, dict) or not 2 <= len(outcomes) <= MAX_MODELS:
        raise RecordError(f"outcomes must map 2 to {MAX_MODELS} model names to outcomes")
    record_id = obj.get("id", default_id)
    if not isinstance(record_id, str | int) or isinstance(record_id, bool):
        raise RecordError("id must be a string")
    parsed = {str(model): _outcome(str(model), f, book) for model, f in outcomes.items()}
    return RouteRecord(str(record_id), prompt, parsed, split, task)


def read_records(path: Path, book: PriceBook | None = None) -> list[RouteRecord]:
    """Every record of a JSONL file; an error names the line.  All records must share one set
    of models."""
    book = book or PriceBook()
    records: list[RouteRecord] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = parse_record(json.loads(line), str(number), book)
            except (RecordError, json.JSONDecodeError) as error:
                raise RecordError(f"{path}:{number}: {error}") from None
            if records and set(record.outcomes) != set(records[0].outcomes):
                raise RecordError(f"{path}:{number}: models differ from the first record's")
            records.append(record)
    if not records:
        raise RecordError(f"{path}: no records")
    return records


def record_to_json(record: RouteRecord) -> dict[str, object]:
    """The JSON object of one record (the inverse of :func:`parse_record`)."""
    outcomes: dict[str, object] = {}
    for model, outcome in record.outcomes.items():
        fields: dict[str, object] = {"score": outcome.score, "cost_usd": str(outcome.cost_usd)}
        if outcome.response is not None:
            fields["response"] = outcome.response
        outcomes[model] = fields
    obj: dict[str, object] = {"id": record.id, "prompt": record.prompt, "outcomes": outcomes}
    if record.split is not None:
        obj["split"] = record.split
    if record.task is not None:
        obj["task"] = record.task
    return obj


def write_records(path: Path, records: Iterable[RouteRecord]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record_to_json(record), ensure_ascii=False) + "\n")
