"""Apps that call the Batch APIs themselves, through the gateway: forwarded as they are,
every answer line booked at batch rates when fetched, and only once."""

from __future__ import annotations

import anthropic
import openai
import orjson
import pytest

from tests.batch.conftest import anthropic_line, openai_line
from thrifty.runtime import Thrifty
from thrifty.serving import RunningServer


async def test_openai_files_and_batches_pass_through_and_book_on_fetch(
    gateway: tuple[RunningServer, Thrifty],
) -> None:
    server, thrifty = gateway
    content = b"\n".join(
        [openai_line("a", "one"), openai_line("b", "two [[sim:fault=500]]"), openai_line("c", "3")]
    )
    async with openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="app", max_retries=0) as sdk:
        uploaded = await sdk.files.create(file=("in.jsonl", content), purpose="batch")
        batch = await sdk.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        done = await sdk.batches.retrieve(batch.id)
        assert done.status == "completed" and done.output_file_id and done.error_file_id
        listed = await sdk.batches.list()
        assert [b.id for b in listed.data] == [batch.id]
        assert thrifty.ledger.rows() == []  # nothing booked before the output is fetched
        output = (await sdk.files.content(done.output_file_id)).content
        assert [orjson.loads(x)["custom_id"] for x in output.splitlines()] == ["a", "c"]
        rows = thrifty.ledger.rows()
        assert len(rows) == 2
        assert all(r.endpoint == "batch-passthrough" and r.calls[0].call.batch for r in rows)
        assert all(r.cost_usd is not None and r.cost_usd * 2 == r.baseline_usd for r in rows)
        await sdk.files.content(done.output_file_id)  # fetched again: booked once
        await sdk.files.content(done.error_file_id)  # errors are not billed, not booked
        assert len(thrifty.ledger.rows()) == 2
        with pytest.raises(openai.NotFoundError):
            await sdk.batches.retrieve("batch_missing")


async def test_anthropic_message_batches_pass_through_and_book_results(
    gateway: tuple[RunningServer, Thrifty],
) -> None:
    server, thrifty = gateway
    requests = [orjson.loads(anthropic_line(f"r{i}", f"q{i}")) for i in range(3)]
    async with anthropic.AsyncAnthropic(base_url=server.url, api_key="app", max_retries=0) as sdk:
        batch = await sdk.messages.batches.create(requests=requests)
        ended = await sdk.messages.batches.retrieve(batch.id)
        assert ended.processing_status == "ended"
        assert ended.results_url == f"{server.url}/v1/messages/batches/{batch.id}/results"
        results = [r async for r in await sdk.messages.batches.results(batch.id)]
        assert [r.result.type for r in results] == ["succeeded"] * 3
        assert len(thrifty.ledger.rows()) == 3
        again = [r async for r in await sdk.messages.batches.results(batch.id)]
        assert len(again) == 3 and len(thrifty.ledger.rows()) == 3
    rows = thrifty.ledger.rows()
    assert {r.model for r in rows} == {"claude-haiku-4-5"}
    assert all(r.savings["batch"] == r.baseline_usd - r.cost_usd for r in rows)  # type: ignore[operator]
