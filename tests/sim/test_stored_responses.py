"""The simulator's stored responses (Responses API side routes) through the official openai
SDK, in process, with a fake clock for background mode."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.sim.conftest import FakeClock
from thrifty.sim.dialect import BadRequest
from thrifty.sim.stored_responses import NotStored, ResponseStore


async def test_a_created_response_is_retrieved_as_it_was_answered(
    oai: openai.AsyncOpenAI,
) -> None:
    made = await oai.responses.create(model="gpt-4o-mini", input="Say hello")
    got = await oai.responses.retrieve(made.id)
    assert got.model_dump() == made.model_dump()
    assert got.status == "completed" and got.background is False


async def test_a_streamed_response_is_stored_in_its_final_form(oai: openai.AsyncOpenAI) -> None:
    async with oai.responses.stream(model="gpt-4o-mini", input="Say hello") as stream:
        final = await stream.get_final_response()
    got = await oai.responses.retrieve(final.id)
    assert got.status == "completed" and got.output_text == final.output_text
    assert got.usage is not None and got.usage.output_tokens == final.usage.output_tokens  # type: ignore[union-attr]


async def test_store_false_is_not_kept(oai: openai.AsyncOpenAI) -> None:
    made = await oai.responses.create(model="gpt-4o-mini", input="Say hello", store=False)
    with pytest.raises(openai.NotFoundError, match=made.id):
        await oai.responses.retrieve(made.id)


async def test_delete_removes_it_and_a_second_delete_is_a_404(oai: openai.AsyncOpenAI) -> None:
    made = await oai.responses.create(model="gpt-4o-mini", input="Say hello")
    raw = await oai.responses.with_raw_response.delete(made.id)
    assert raw.status_code == 200
    assert raw.http_response.json() == {"id": made.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        await oai.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        await oai.responses.delete(made.id)


async def test_input_items_lists_the_inputs_with_ids_newest_first_and_pages(
    oai: openai.AsyncOpenAI,
) -> None:
    made = await oai.responses.create(
        model="gpt-4o-mini",
        input=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "second"},
            {"role": "user", "content": [{"type": "input_text", "text": "third"}]},
        ],
    )
    page = await oai.responses.input_items.list(made.id)
    texts = [item.content[0].text for item in page.data]  # type: ignore[union-attr]
    assert texts == ["third", "second", "first"]
    assert len({item.id for item in page.data}) == 3
    ascending = await oai.responses.input_items.list(made.id, order="asc", limit=2)
    assert [i.content[0].text for i in ascending.data] == ["first", "second"]  # type: ignore[union-attr]
    assert ascending.has_more
    rest = await oai.responses.input_items.list(
        made.id, order="asc", limit=2, after=ascending.data[-1].id
    )
    assert [i.content[0].text for i in rest.data] == ["third"]  # type: ignore[union-attr]
    assert not rest.has_more
    # The SDK's auto-pagination walks the same pages.
    walked = [item.id async for item in oai.responses.input_items.list(made.id, limit=1)]
    assert walked == [item.id for item in page.data]


async def test_input_items_rejects_bad_paging_values(http: httpx.AsyncClient) -> None:
    made = (await http.post("/v1/responses", json={"model": "gpt-4o-mini", "input": "hi"})).json()
    base = f"/v1/responses/{made['id']}/input_items"
    for query in ("?limit=0", "?limit=101", "?limit=x", "?order=up", "?after=nope"):
        answer = await http.get(base + query)
        assert answer.status_code == 400, query
        assert answer.json()["error"]["type"] == "invalid_request_error"


async def test_previous_response_id_continues_the_stored_conversation(
    oai: openai.AsyncOpenAI,
) -> None:
    first = await oai.responses.create(model="gpt-4o-mini", input="Tell me about owls")
    alone = await oai.responses.create(model="gpt-4o-mini", input="And cats?", store=False)
    after = await oai.responses.create(
        model="gpt-4o-mini", input="And cats?", previous_response_id=first.id
    )
    assert first.usage is not None and alone.usage is not None and after.usage is not None
    # The earlier input and output count as input of the continuation.
    assert after.usage.input_tokens > alone.usage.input_tokens + first.usage.output_tokens
    assert after.previous_response_id == first.id
    with pytest.raises(openai.BadRequestError, match="Previous response with id"):
        await oai.responses.create(
            model="gpt-4o-mini", input="x", previous_response_id="resp_unknown"
        )


async def test_background_runs_for_the_latency_then_completes(
    oai: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    made = await oai.responses.create(
        model="gpt-4o-mini", input="[[sim:latency=5000]] Long job", background=True
    )
    assert made.status == "queued" and made.background is True and made.output == []
    assert (await oai.responses.retrieve(made.id)).status == "in_progress"
    clock.advance(4.9)
    assert (await oai.responses.retrieve(made.id)).status == "in_progress"
    clock.advance(0.2)
    done = await oai.responses.retrieve(made.id)
    assert done.status == "completed" and done.output_text.startswith("Simulated reply")
    assert done.usage is not None and done.usage.output_tokens > 0
    with pytest.raises(openai.BadRequestError, match="status 'completed'"):
        await oai.responses.cancel(made.id)


async def test_cancel_stops_a_running_background_response(
    oai: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    made = await oai.responses.create(
        model="gpt-4o-mini", input="[[sim:latency=5000]] Long job", background=True
    )
    cancelled = await oai.responses.cancel(made.id)
    assert cancelled.status == "cancelled" and cancelled.output == []
    assert (await oai.responses.cancel(made.id)).status == "cancelled"  # idempotent
    clock.advance(60)
    assert (await oai.responses.retrieve(made.id)).status == "cancelled"


async def test_cancel_of_a_foreground_response_is_a_400(oai: openai.AsyncOpenAI) -> None:
    made = await oai.responses.create(model="gpt-4o-mini", input="Say hello")
    with pytest.raises(openai.BadRequestError, match="background=true"):
        await oai.responses.cancel(made.id)


async def test_background_needs_store_and_does_not_stream(http: httpx.AsyncClient) -> None:
    body = {"model": "gpt-4o-mini", "input": "hi", "background": True}
    for extra in ({"store": False}, {"stream": True}):
        answer = await http.post("/v1/responses", json={**body, **extra})
        assert answer.status_code == 400
        assert answer.json()["error"]["param"] in ("background", "stream")


async def test_input_tokens_counts_what_create_bills(oai: openai.AsyncOpenAI) -> None:
    counted = await oai.responses.input_tokens.count(
        model="gpt-4o-mini", input="Count me", instructions="Be brief."
    )
    made = await oai.responses.create(
        model="gpt-4o-mini", input="Count me", instructions="Be brief.", store=False
    )
    assert counted.object == "response.input_tokens"
    assert made.usage is not None and counted.input_tokens == made.usage.input_tokens
    with pytest.raises(openai.BadRequestError, match="input"):
        await oai.responses.input_tokens.count(model="gpt-4o-mini")


async def test_side_routes_check_the_key_and_answer_unknown_ids_with_404(
    http: httpx.AsyncClient,
) -> None:
    bad = await http.get("/v1/responses/resp_x", headers={"authorization": "Bearer sim-bad-key"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_api_key"
    for method, path in (
        ("GET", "/v1/responses/resp_x"),
        ("DELETE", "/v1/responses/resp_x"),
        ("POST", "/v1/responses/resp_x/cancel"),
        ("GET", "/v1/responses/resp_x/input_items"),
    ):
        answer = await http.request(method, path)
        assert answer.status_code == 404, (method, path)
        assert "resp_x" in answer.json()["error"]["message"]
        assert answer.headers["x-request-id"].startswith("req_")
    streamed = await http.get("/v1/responses/resp_x?stream=true")
    assert streamed.status_code == 400


def test_the_store_keeps_the_newest_entries_only(clock: FakeClock) -> None:
    store = ResponseStore(max_entries=2, clock=clock)
    for n in range(3):
        store.put({"id": f"resp_{n}", "status": "completed", "output": []}, [])
    assert len(store) == 2
    with pytest.raises(NotStored):
        store.get("resp_0")
    assert store.get("resp_2")["id"] == "resp_2"
    with pytest.raises(BadRequest):
        store.cancel("resp_2")  # not a background response
