"""thrifty as a library: the Responses API, embeddings and legacy completions run through
the same pipeline and ledger as chat (``Thrifty.responses/embeddings/completions/call``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.api_requests import api_request
from thrifty.config import Settings
from thrifty.errors import BadRequest
from thrifty.runtime import SyncThrifty, Thrifty

M = Decimal(1_000_000)


def settings(tmp_path: Path) -> Settings:
    return Settings(ledger={"path": str(tmp_path / "l.db")}, simulator={"port": 0})


async def test_each_api_is_booked_in_the_ledger(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        vectors = await thrifty.embeddings(
            {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "float"},
            task="index",
        )
        answer = await thrifty.responses({"model": "gpt-4o-mini", "input": "hi"})
        completion = await thrifty.completions({"model": "gpt-3.5-turbo-instruct", "prompt": "x"})
        via_call = await thrifty.call(
            "embeddings", {"model": "text-embedding-3-small", "input": "c"}
        )
        assert vectors.body is not None and len(vectors.body["data"]) == 2
        assert answer.body is not None and answer.body["object"] == "response"
        assert completion.body is not None and completion.body["object"] == "text_completion"
        assert via_call.body is not None
        rows = thrifty.ledger.rows()
    assert [r.endpoint for r in rows] == ["library"] * 4
    assert rows[0].task == "index"
    tokens = vectors.body["usage"]["prompt_tokens"]
    assert rows[0].cost_usd == tokens * Decimal("0.02") / M
    assert [r.model for r in rows] == [
        "text-embedding-3-small",
        "gpt-4o-mini",
        "gpt-3.5-turbo-instruct",
        "text-embedding-3-small",
    ]


async def test_a_streamed_responses_call_is_booked_when_drained(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        response = await thrifty.responses({"model": "gpt-4o-mini", "input": "hi", "stream": True})
        assert response.stream is not None
        kinds = [event.event async for batch in response.stream for event in batch]
        [row] = thrifty.ledger.rows()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert row.stream and row.status == 200 and row.cost_usd is not None and row.cost_usd > 0


async def test_bad_bodies_raise_bad_request(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        with pytest.raises(BadRequest, match="missing required field 'input'"):
            await thrifty.embeddings({"model": "text-embedding-3-small"})


def test_the_other_apis_have_no_anthropic_form() -> None:
    with pytest.raises(BadRequest, match="no anthropic form"):
        api_request("embeddings", {"model": "m", "input": "x"}, dialect="anthropic")


def test_metadata_task_is_taken_out_of_a_responses_body() -> None:
    body = {"model": "gpt-4o", "input": "x", "metadata": {"thrifty_task": "t1", "keep": "me"}}
    request = api_request("responses", body)
    assert (request.api, request.task, request.body["metadata"]) == (
        "responses",
        "t1",
        {"keep": "me"},
    )
    assert (
        api_request("chat", {"model": "m", "messages": [{"role": "user", "content": "x"}]}).api
        == "chat"
    )


def test_the_sync_facade_calls_them_too(tmp_path: Path) -> None:
    with SyncThrifty(settings(tmp_path), environ={}) as thrifty:
        response = thrifty.call("completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "x"})
        assert response.body is not None and response.body["choices"]
        with pytest.raises(ValueError, match="does not stream"):
            thrifty.call("responses", {"model": "gpt-4o", "input": "x", "stream": True})
