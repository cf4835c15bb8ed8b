"""A batch item whose answer was cut by its length limit is booked as truncated, like an
interactive answer (the fact is read from the answer's body)."""

from __future__ import annotations

import orjson
import pytest

from thrifty.batch.booking import request_of, response_of
from thrifty.batch.queue import ItemRow


def item(dialect: str, result: dict[str, object]) -> ItemRow:
    return ItemRow(
        id=1,
        submission_id="s",
        seq=0,
        custom_id="c",
        provider=dialect,
        dialect=dialect,
        model="m",
        body=orjson.dumps({"model": "m", "messages": []}),
        size=1,
        state="succeeded",
        source="batch",
        job_id="j",
        attempts=1,
        result_status=200,
        result=orjson.dumps(result),
        error=None,
        booked=False,
        leader=None,
        tenant=None,
        task=None,
        created_at=0.0,
    )


@pytest.mark.parametrize(
    ("dialect", "result", "cut"),
    [
        ("openai", {"model": "m", "choices": [{"finish_reason": "length"}]}, True),
        ("openai", {"model": "m", "choices": [{"finish_reason": "stop"}]}, False),
        ("anthropic", {"model": "m", "stop_reason": "max_tokens"}, True),
        ("anthropic", {"model": "m", "stop_reason": "end_turn"}, False),
    ],
)
def test_a_cut_batch_answer_is_truncated(
    dialect: str, result: dict[str, object], cut: bool
) -> None:
    row = item(dialect, result)
    assert response_of(row, request_of(row)).truncated is cut
