"""The JSONL record format: parsing, pricing from tokens, every rejection, round trip."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.eval.route.conftest import jsonl, synthetic_records
from thrifty.config import PriceOverride
from thrifty.eval.route.records import (
    MAX_MODELS,
    MAX_TASK_CHARS,
    RecordError,
    read_records,
    write_records,
)
from thrifty.pricing import PriceBook

BOOK = PriceBook({"tiny": PriceOverride(input=2, output=8)})


def good(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": "q1",
        "prompt": "2+2?",
        "split": "train",
        "outcomes": {
            "small": {"score": 0, "response": "5", "cost_usd": "0.0001"},
            "tiny": {"score": True, "input_tokens": 1000, "output_tokens": 500},
        },
    }
    record.update(changes)
    return record


def test_a_record_with_dollars_and_one_priced_from_tokens(tmp_path: Path) -> None:
    [record] = read_records(jsonl(tmp_path / "r.jsonl", [good()]), BOOK)
    assert record.id == "q1" and record.prompt == "2+2?" and record.split == "train"
    assert record.outcomes["small"].cost_usd == Decimal("0.0001")
    assert record.outcomes["small"].response == "5" and record.outcomes["small"].score == 0.0
    # 1000 input tokens at $2/M + 500 output tokens at $8/M
    assert record.outcomes["tiny"].cost_usd == Decimal("0.002") + Decimal("0.004")
    assert record.outcomes["tiny"].score == 1.0 and record.outcomes["tiny"].response is None


def test_round_trip(tmp_path: Path) -> None:
    records = synthetic_records(6, "test")
    write_records(tmp_path / "out.jsonl", records)
    assert read_records(tmp_path / "out.jsonl") == records


def test_the_task_is_optional_and_round_trips(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "r.jsonl", [good(task="t" * MAX_TASK_CHARS), good(id="q2")])
    named, unnamed = read_records(path, BOOK)
    assert named.task == "t" * MAX_TASK_CHARS and unnamed.task is None
    write_records(tmp_path / "out.jsonl", [named, unnamed])
    assert read_records(tmp_path / "out.jsonl", BOOK) == [named, unnamed]


def outcome(**fields: object) -> dict[str, object]:
    return {"small": fields, "tiny": {"score": 1, "cost_usd": 0}}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (["not", "an", "object"], "JSON object"),
        (good(prompt=""), "prompt"),
        (good(prompt=7), "prompt"),
        (good(split="validation"), "split"),
        (good(task=""), "task"),
        (good(task=3), "task"),
        (good(task="t" * (MAX_TASK_CHARS + 1)), "task"),
        (good(id=True), "id"),
        (good(outcomes={"only": {"score": 1, "cost_usd": 1}}), "outcomes"),
        (
            good(outcomes={f"m{i}": {"score": 1, "cost_usd": 1} for i in range(MAX_MODELS + 1)}),
            "outcomes",
        ),
        (good(outcomes=outcome(cost_usd=1)), "missing score"),
        (good(outcomes=outcome(score=1.5, cost_usd=1)), r"\[0, 1\]"),
        (good(outcomes=outcome(score="1", cost_usd=1)), r"\[0, 1\]"),
        (good(outcomes=outcome(score=float("nan"), cost_usd=1)), r"\[0, 1\]"),
        (good(outcomes=outcome(score=1, cost_usd="-1")), "cost_usd must be in"),
        (good(outcomes=outcome(score=1, cost_usd="lots")), "not a number"),
        (good(outcomes=outcome(score=1, cost_usd="1e9")), "cost_usd must be in"),
        (good(outcomes=outcome(score=1, cost_usd=True)), "cost_usd must be"),
        (good(outcomes=outcome(score=1)), "input_tokens and output_tokens"),
        (good(outcomes=outcome(score=1, input_tokens=-1, output_tokens=2)), "input_tokens"),
        (good(outcomes=outcome(score=1, cost_usd=1, response=3)), "response must be a string"),
        (good(outcomes={"small": 1, "tiny": {"score": 1, "cost_usd": 0}}), "must be an object"),
    ],
)
def test_bad_records_are_refused_naming_the_line(
    tmp_path: Path, record: object, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"prompt": "fine", "outcomes": {"small": {"score": 1, "cost_usd": 0}, '
        '"tiny": {"score": 1, "cost_usd": 0}}}\n',
        encoding="utf-8",
    )
    with path.open("a", encoding="utf-8") as out:
        import json

        out.write(json.dumps(record) + "\n")
    with pytest.raises(RecordError, match=message) as caught:
        read_records(path, BOOK)
    assert f"{path}:2:" in str(caught.value)


def test_a_model_without_a_price_needs_cost_usd(tmp_path: Path) -> None:
    record = good(
        outcomes={
            "small": {"score": 1, "cost_usd": 0},
            "no-such-model-xyz": {"score": 1, "input_tokens": 1, "output_tokens": 1},
        }
    )
    with pytest.raises(RecordError, match="no price known for model 'no-such-model-xyz'"):
        read_records(jsonl(tmp_path / "r.jsonl", [record]), BOOK)


def test_records_must_share_their_models(tmp_path: Path) -> None:
    other = good(
        outcomes={"small": {"score": 1, "cost_usd": 0}, "big": {"score": 1, "cost_usd": 1}}
    )
    with pytest.raises(RecordError, match=":2: models differ"):
        read_records(jsonl(tmp_path / "r.jsonl", [good(), other]), BOOK)


def test_an_empty_file_and_broken_json_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(RecordError, match="no records"):
        read_records(tmp_path / "empty.jsonl", BOOK)
    (tmp_path / "broken.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"broken\.jsonl:1:"):
        read_records(tmp_path / "broken.jsonl", BOOK)
