"""OpenAI Files + Batch API on the simulator, with the official SDK as the client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import openai
import orjson
import pytest
from starlette.applications import Starlette

from tests.sim.conftest import FakeClock
from thrifty.sim import SimConfig, create_app, sim_state


def line(custom_id: str, text: str, model: str = "gpt-4o-mini", **extra: object) -> bytes:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    wire = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    return orjson.dumps(wire)


def jsonl(*lines: bytes) -> bytes:
    return b"\n".join(lines) + b"\n"


@pytest.fixture
def app(clock: FakeClock) -> Starlette:
    return create_app(SimConfig(batch_duration_s=100.0, batch_window_s=1000.0), clock=clock)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[openai.AsyncOpenAI]:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as http:
        made = openai.AsyncOpenAI(
            base_url="http://sim/v1", api_key="sk-test", http_client=http, max_retries=0
        )
        yield made


async def submit(client: openai.AsyncOpenAI, content: bytes) -> openai.types.Batch:
    uploaded = await client.files.create(file=("in.jsonl", content), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == len(content)
    return await client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )


async def test_a_batch_completes_over_time_with_chat_answers_and_usage(
    client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    content = jsonl(*(line(f"r{i}", f"question {i}") for i in range(4)))
    batch = await submit(client, content)
    assert batch.status == "in_progress" and batch.model == "gpt-4o-mini"
    assert batch.request_counts is not None and batch.request_counts.total == 4
    assert batch.request_counts.completed == 0 and batch.output_file_id is None
    clock.advance(50)  # half the duration: two lines done
    half = await client.batches.retrieve(batch.id)
    assert half.status == "in_progress" and half.request_counts is not None
    assert half.request_counts.completed == 2
    clock.advance(50)
    done = await client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.completed_at is not None
    assert done.output_file_id is not None and done.error_file_id is None
    out = (await client.files.content(done.output_file_id)).content
    rows = [orjson.loads(x) for x in out.splitlines()]
    assert [r["custom_id"] for r in rows] == ["r0", "r1", "r2", "r3"]
    first = rows[0]["response"]
    assert first["status_code"] == 200 and rows[0]["error"] is None
    completion = openai.types.chat.ChatCompletion.model_validate(first["body"])
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert done.usage is not None
    assert done.usage.input_tokens == sum(
        r["response"]["body"]["usage"]["prompt_tokens"] for r in rows
    )
    # The same request answered interactively gets the same text and usage.
    chat = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "question 0"}]
    )
    assert chat.choices[0].message.content == completion.choices[0].message.content
    assert chat.usage == completion.usage


async def test_partial_failures_go_to_the_error_file(
    client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    content = jsonl(
        line("ok", "fine"),
        line("boom", "please [[sim:fault=500]]"),
        line("bad", "x", max_tokens=0),
    )
    batch = await submit(client, content)
    clock.advance(100)
    done = await client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 2)
    assert done.error_file_id is not None and done.output_file_id is not None
    errors = [
        orjson.loads(x)
        for x in (await client.files.content(done.error_file_id)).content.splitlines()
    ]
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [
        ("boom", 500),
        ("bad", 400),
    ]
    assert errors[1]["response"]["body"]["error"]["type"] == "invalid_request_error"


async def test_cancel_keeps_the_lines_done_and_cancels_the_rest(
    client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    batch = await submit(client, jsonl(*(line(f"r{i}", f"q{i}") for i in range(4))))
    clock.advance(25)
    cancelling = await client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling"
    clock.advance(100)  # cancelled work does not go on
    cancelled = await client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled" and cancelled.request_counts is not None
    assert (cancelled.request_counts.completed, cancelled.request_counts.failed) == (1, 3)
    assert cancelled.error_file_id is not None
    errors = (await client.files.content(cancelled.error_file_id)).content.splitlines()
    assert [orjson.loads(e)["error"]["code"] for e in errors] == ["batch_cancelled"] * 3
    with pytest.raises(openai.ConflictError):
        await client.batches.cancel(batch.id)


async def test_a_batch_longer_than_its_window_expires_with_partial_results(
    clock: FakeClock,
) -> None:
    app = create_app(SimConfig(batch_duration_s=400.0, batch_window_s=100.0), clock=clock)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sim"
    ) as http:
        client = openai.AsyncOpenAI(base_url="http://sim/v1", api_key="k", http_client=http)
        batch = await submit(client, jsonl(*(line(f"r{i}", f"q{i}") for i in range(8))))
        clock.advance(99)
        assert (await client.batches.retrieve(batch.id)).status == "in_progress"
        clock.advance(1)
        expired = await client.batches.retrieve(batch.id)
        assert expired.status == "expired" and expired.expired_at is not None
        assert expired.request_counts is not None and expired.request_counts.completed == 2
        assert expired.error_file_id is not None
        errors = (await client.files.content(expired.error_file_id)).content.splitlines()
        assert [orjson.loads(e)["error"]["code"] for e in errors] == ["batch_expired"] * 6


async def test_bad_input_files_fail_the_batch_naming_each_line(
    client: openai.AsyncOpenAI,
) -> None:
    content = jsonl(
        line("a", "x"),
        b"{not json",
        line("a", "again"),
        line("c", "x", model="gpt-4o"),
        orjson.dumps(
            {"custom_id": "d", "method": "GET", "url": "/v1/chat/completions", "body": {}}
        ),
    )
    batch = await submit(client, content)
    assert batch.status == "failed" and batch.errors is not None and batch.errors.data
    named = [(e.line, e.code) for e in batch.errors.data]
    assert named == [
        (2, "invalid_json_line"),
        (3, "duplicate_custom_id"),
        (4, "mismatched_model"),
        (5, "invalid_method"),
    ]


async def test_request_checks(client: openai.AsyncOpenAI, app: Starlette) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.files.create(file=("in.txt", b"x"), purpose="batch")
    with pytest.raises(openai.NotFoundError):
        await client.batches.create(
            input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.NotFoundError):
        await client.batches.retrieve("batch_missing")
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve("file-missing")
    uploaded = await client.files.create(file=("in.jsonl", jsonl(line("a", "x"))), purpose="batch")
    assert (await client.files.retrieve(uploaded.id)).filename == "in.jsonl"
    with pytest.raises(openai.BadRequestError):
        await client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/nothing",  # type: ignore[arg-type]
            completion_window="24h",
        )
    bad = openai.AsyncOpenAI(
        base_url="http://sim/v1", api_key="sim-bad-key", http_client=client._client, max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        await bad.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
    assert sim_state(app).stats.by_route["/v1/files"] == 3


async def test_list_is_newest_first_and_pages(client: openai.AsyncOpenAI) -> None:
    made = [await submit(client, jsonl(line("a", f"q{i}"))) for i in range(3)]
    first = await client.batches.list(limit=2)
    assert [b.id for b in first.data] == [made[2].id, made[1].id] and first.has_more
    every = [b.id async for b in client.batches.list(limit=2)]
    assert every == [b.id for b in reversed(made)]
