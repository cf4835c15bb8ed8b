"""The OpenAI Responses API (``POST /v1/responses``) through the gateway's pipeline and
ledger, with the official openai SDK as the client: plain, streamed (``stream=True`` and
the ``responses.stream`` helper), sync, failures."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

import httpx
import openai
import pytest

from tests.gateway.api_checks import assert_refused_for_anthropic, assert_rejected, sync_client
from tests.gateway.conftest import Gateway

M = Decimal(1_000_000)
# gpt-4o-mini list prices, USD per million tokens: input, cached input, output.
GPT_4O_MINI_INPUT = Decimal("0.15")
GPT_4O_MINI_CACHED = Decimal("0.075")
GPT_4O_MINI_OUTPUT = Decimal("0.6")


def hand_cost(input_tokens: int, cached: int, output_tokens: int) -> Decimal:
    """gpt-4o-mini: uncached input, cached input and output at their list rates."""
    return (
        (input_tokens - cached) * GPT_4O_MINI_INPUT
        + cached * GPT_4O_MINI_CACHED
        + output_tokens * GPT_4O_MINI_OUTPUT
    ) / M


async def test_create_is_booked_at_the_hand_priced_cost(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    raw = await oai.responses.with_raw_response.create(
        model="gpt-4o-mini", input="Say hello", instructions="Be brief."
    )
    answer = raw.parse()
    assert answer.output_text.startswith("Simulated reply")
    usage = answer.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    expected = hand_cost(usage.input_tokens, 0, usage.output_tokens)
    assert Decimal(raw.headers["x-thrifty-cost-usd"]) == expected
    assert raw.headers["x-thrifty-model"] == "gpt-4o-mini"
    assert raw.headers["x-thrifty-levers"] == "none"
    assert raw.headers["x-request-id"].startswith("req_")  # the upstream's, forwarded
    [row] = gateway.rows()
    assert (row.endpoint, row.status, row.stream) == ("/v1/responses", 200, False)
    assert (row.dialect, row.model, row.provider) == ("openai", "gpt-4o-mini", "openai")
    assert row.usage.input_tokens == usage.input_tokens
    assert row.usage.output_tokens == usage.output_tokens
    assert row.cost_usd == expected and not row.cost_estimated
    assert row.request_id == raw.headers["x-thrifty-request-id"]


async def test_cached_input_tokens_are_booked_at_the_cached_rate(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    # The simulator caches a prompt prefix of 1024+ tokens, as OpenAI does.
    context = " ".join(f"fact{i} is true." for i in range(700))
    first = await oai.responses.create(model="gpt-4o-mini", input=context + " Question one?")
    second = await oai.responses.create(model="gpt-4o-mini", input=context + " Question two?")
    assert first.usage is not None and second.usage is not None
    assert first.usage.input_tokens_details.cached_tokens == 0
    cached = second.usage.input_tokens_details.cached_tokens
    assert cached >= 1024
    _, row = gateway.rows()
    assert row.usage.cache_read_tokens == cached
    assert row.cost_usd == hand_cost(second.usage.input_tokens, cached, second.usage.output_tokens)


async def test_stream_true_passes_every_event_and_books_the_final_usage(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    stream = await oai.responses.create(model="gpt-4o-mini", input="Stream please", stream=True)
    kinds: list[str] = []
    text = ""
    final = None
    async for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            final = event.response
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert final is not None and final.usage is not None
    assert text == final.output_text
    [row] = gateway.rows()
    assert (row.endpoint, row.status, row.stream, row.failure) == (
        "/v1/responses",
        200,
        True,
        None,
    )
    assert row.usage.input_tokens == final.usage.input_tokens
    assert row.usage.output_tokens == final.usage.output_tokens
    assert row.cost_usd == hand_cost(final.usage.input_tokens, 0, final.usage.output_tokens)
    assert not row.cost_estimated


async def test_the_stream_helper_gets_its_final_response(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    async with oai.responses.stream(model="gpt-4o-mini", input="Helper please") as stream:
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(deltas) == final.output_text
    assert final.usage is not None
    [row] = gateway.rows()
    assert row.stream and row.cost_usd == hand_cost(
        final.usage.input_tokens, 0, final.usage.output_tokens
    )


async def test_streamed_and_plain_answers_agree(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    plain = await oai.responses.create(model="gpt-4o-mini", input="Same question")
    async with oai.responses.stream(model="gpt-4o-mini", input="Same question") as stream:
        streamed = await stream.get_final_response()
    assert streamed.output_text == plain.output_text
    first, second = gateway.rows()
    assert first.cost_usd == second.cost_usd


async def test_a_stream_ends_with_a_cost_comment(gateway: Gateway) -> None:
    body = {"model": "gpt-4o-mini", "input": "cost comment please", "stream": True}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/v1/responses", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-thrifty-model"] == "gpt-4o-mini"
    assert response.headers["x-thrifty-provider"] == "openai"
    assert response.headers["x-request-id"].startswith("req_")
    *events, last = [e for e in response.text.split("\n\n") if e]
    assert events[-1].startswith("event: response.completed\n")
    fields = dict(part.split("=") for part in last.removeprefix(": thrifty ").split())
    [row] = gateway.rows()
    assert row.cost_usd is not None and Decimal(fields["cost-usd"]) == row.cost_usd
    assert "cost-estimated" not in fields


async def test_a_stream_cut_midway_is_booked_from_what_was_seen(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    prompt = "long answer please [[sim:fault=cut]]"
    stream = await oai.responses.create(model="gpt-4o-mini", input=prompt, stream=True)
    kinds = [event.type async for event in stream]
    # The app got HTTP 200, some deltas, then the Responses API's own error event.
    assert "response.output_text.delta" in kinds
    assert kinds[-1] == "error" and "response.completed" not in kinds
    [row] = gateway.rows()
    assert row.stream and row.status == 200 and row.failure == "mid_stream"
    assert row.error is not None and "stream_interrupted" in row.error
    assert row.cost_estimated
    # The prompt estimate: ceil(characters / 4) + 3 for the message + 3 to prime the answer.
    assert row.usage.input_tokens == math.ceil(len(prompt) / 4) + 6
    assert row.usage.output_tokens > 0
    assert row.cost_usd == hand_cost(row.usage.input_tokens, 0, row.usage.output_tokens)


async def test_a_cut_stream_says_its_cost_is_an_estimate(gateway: Gateway) -> None:
    body = {"model": "gpt-4o-mini", "input": "long answer [[sim:fault=cut]]", "stream": True}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/v1/responses", json=body)
    *events, last = [e for e in response.text.split("\n\n") if e]
    assert events[-1].startswith("event: error\ndata: ")
    assert '"type":"error"' in events[-1] and '"code":"stream_interrupted"' in events[-1]
    fields = dict(part.split("=") for part in last.removeprefix(": thrifty ").split())
    assert fields["cost-estimated"] == "true"
    [row] = gateway.rows()
    assert row.cost_usd is not None and Decimal(fields["cost-usd"]) == row.cost_usd


@pytest.mark.parametrize(
    ("fault", "error"),
    [("429", openai.RateLimitError), ("500", openai.InternalServerError)],
)
async def test_upstream_faults_keep_their_status_and_are_booked(
    gateway: Gateway, oai: openai.AsyncOpenAI, fault: str, error: type[openai.APIStatusError]
) -> None:
    with pytest.raises(error) as caught:
        await oai.responses.create(model="gpt-4o-mini", input=f"hi [[sim:fault={fault}]]")
    assert caught.value.status_code == int(fault)
    [row] = gateway.rows()
    assert (row.endpoint, row.status, row.failure) == ("/v1/responses", int(fault), "upstream")
    assert row.error is not None and f"openai returned HTTP {fault}" in row.error
    assert row.cost_usd == 0  # the upstream refused the call: nothing was billed


async def test_a_fault_on_a_stream_keeps_its_status(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.InternalServerError):
        await oai.responses.create(model="gpt-4o-mini", input="hi [[sim:fault=500]]", stream=True)
    [row] = gateway.rows()
    assert row.stream and row.status == 500 and row.failure == "upstream"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "gpt-4o-mini"}, "missing required field 'input'"),
        ({"model": "gpt-4o-mini", "input": []}, "'input' must not be an empty array"),
        ({"model": "gpt-4o-mini", "input": ""}, "'input' must not be an empty string"),
        ({"model": "gpt-4o-mini", "input": 42}, "'input' must be a string or an array"),
        ({"model": "gpt-4o-mini", "input": ["hi"]}, "'input[0]' must be an object"),
        ({"model": "gpt-4o-mini", "input": "hi", "instructions": 1}, "'instructions'"),
        ({"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 0}, "positive integer"),
        ({"model": "gpt-4o-mini", "input": "hi", "stream": "yes"}, "'stream' must be a boolean"),
        ({"input": "hi"}, "missing required field 'model'"),
    ],
)
async def test_invalid_bodies_are_clear_400s_and_booked(
    gateway: Gateway, body: dict[str, object], message: str
) -> None:
    await assert_rejected(gateway, "/v1/responses", body, message)


async def test_an_anthropic_model_is_a_clear_400(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    await assert_refused_for_anthropic(
        gateway, oai.responses.create(model="claude-haiku-4-5", input="hi")
    )


async def test_task_routing_sends_a_responses_request_to_the_routed_model(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    # The gateway fixture routes task "summarize" to gpt-4o-mini, which an OpenAI-compatible
    # provider serves: a Responses request follows the rule, and routing books the saving.
    raw = await oai.responses.with_raw_response.create(
        model="gpt-4o", input="Summarise this", extra_headers={"X-Thrifty-Task": "summarize"}
    )
    assert raw.headers["x-thrifty-model"] == "gpt-4o-mini"
    [row] = gateway.rows()
    assert (row.task, row.requested_model, row.model) == ("summarize", "gpt-4o", "gpt-4o-mini")
    assert row.cost_usd is not None and row.baseline_usd is not None
    assert row.savings == {"routing": row.baseline_usd - row.cost_usd}
    assert row.savings["routing"] is not None and row.savings["routing"] > 0


async def test_tool_calls_come_back_as_function_call_items(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    answer = await oai.responses.create(
        model="gpt-4o-mini", input="Weather in Paris?", tools=[tool], tool_choice="required"
    )
    [item] = answer.output
    assert item.type == "function_call" and item.name == "get_weather"
    [row] = gateway.rows()
    assert answer.usage is not None
    assert row.cost_usd == hand_cost(answer.usage.input_tokens, 0, answer.usage.output_tokens)


async def test_the_sync_client_works_too(gateway: Gateway) -> None:
    def call() -> tuple[str, int, int]:
        with sync_client(gateway) as client:
            answer = client.responses.create(model="gpt-4o-mini", input="Sync hello")
            assert answer.usage is not None
            return answer.output_text, answer.usage.input_tokens, answer.usage.output_tokens

    text, prompt, output = await asyncio.to_thread(call)
    assert text
    [row] = gateway.rows()
    assert row.cost_usd == hand_cost(prompt, 0, output)


async def test_the_unversioned_path_is_served_too(gateway: Gateway) -> None:
    body = {"model": "gpt-4o-mini", "input": "no v1"}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/responses", json=body)
        other_method = await http.get("/v1/responses")
    assert response.status_code == 200 and response.json()["object"] == "response"
    assert other_method.status_code == 405
    [row] = gateway.rows()
    assert row.endpoint == "/responses"


async def test_the_side_routes_forward_an_unknown_id_as_the_upstreams_404(
    gateway: Gateway,
) -> None:
    """The side routes are forwarded (tests/gateway/test_response_side_routes.py); an id the
    provider does not know is its own 404, and nothing is booked."""
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        fetched = await http.get("/v1/responses/resp_123")
        items = await http.get("/v1/responses/resp_123/input_items")
        listing = await http.get("/v1/responses")  # there is no list of responses
    assert fetched.status_code == items.status_code == 404
    assert "resp_123" in fetched.json()["error"]["message"]
    assert fetched.headers["x-thrifty-provider"] == "openai"
    assert listing.status_code == 405
    assert gateway.rows() == []  # nothing asked of a model: not booked
