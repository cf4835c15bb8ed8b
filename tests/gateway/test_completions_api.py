"""Legacy OpenAI text completions (``POST /v1/completions``, what llama-index's OpenAILike
and older clients call) through the gateway's pipeline and ledger, with the official
openai SDK as the client: prompt string or list, streamed or not, failures booked."""

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
# gpt-3.5-turbo-instruct list prices, USD per million tokens (input, output).
INSTRUCT_INPUT = Decimal("1.5")
INSTRUCT_OUTPUT = Decimal("2")
MODEL = "gpt-3.5-turbo-instruct"


def hand_cost(prompt_tokens: int, completion_tokens: int) -> Decimal:
    return (prompt_tokens * INSTRUCT_INPUT + completion_tokens * INSTRUCT_OUTPUT) / M


async def test_a_prompt_string_is_booked_at_the_hand_priced_cost(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    raw = await oai.completions.with_raw_response.create(
        model=MODEL, prompt="Once upon a time", max_tokens=200
    )
    completion = raw.parse()
    [choice] = completion.choices
    assert choice.text and choice.finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    expected = hand_cost(usage.prompt_tokens, usage.completion_tokens)
    assert Decimal(raw.headers["x-thrifty-cost-usd"]) == expected
    assert raw.headers["x-thrifty-model"] == MODEL
    [row] = gateway.rows()
    assert (row.endpoint, row.status, row.stream) == ("/v1/completions", 200, False)
    assert row.usage.input_tokens == usage.prompt_tokens
    assert row.usage.output_tokens == usage.completion_tokens
    assert row.cost_usd == expected


async def test_a_prompt_list_gets_a_choice_per_prompt(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    completion = await oai.completions.create(model=MODEL, prompt=["First", "Second"], n=2)
    assert [c.index for c in completion.choices] == [0, 1, 2, 3]
    # Like OpenAI's, the default cap is 16 tokens: the simulated answers are cut there.
    assert {c.finish_reason for c in completion.choices} == {"length"}
    assert completion.choices[0].text != completion.choices[2].text  # prompts differ
    assert completion.usage is not None
    [row] = gateway.rows()
    assert row.usage.output_tokens == completion.usage.completion_tokens == 4 * 16
    assert row.cost_usd == hand_cost(completion.usage.prompt_tokens, 64)


@pytest.mark.parametrize("include_usage", [False, True])
async def test_a_stream_is_booked_with_or_without_the_app_asking_for_usage(
    gateway: Gateway, oai: openai.AsyncOpenAI, include_usage: bool
) -> None:
    stream = await oai.completions.create(
        model=MODEL,
        prompt="Stream a story",
        max_tokens=300,
        stream=True,
        stream_options={"include_usage": True} if include_usage else None,
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    usages = [c.usage for c in chunks if c.usage is not None]
    whole = await oai.completions.create(model=MODEL, prompt="Stream a story", max_tokens=300)
    assert whole.usage is not None
    assert text == whole.choices[0].text
    # thrifty always asks the upstream for usage; the app sees it only if it asked.
    assert usages == ([whole.usage] if include_usage else [])
    streamed, _ = gateway.rows()
    assert streamed.stream and streamed.status == 200 and not streamed.cost_estimated
    assert streamed.usage.output_tokens == whole.usage.completion_tokens
    assert streamed.cost_usd == hand_cost(whole.usage.prompt_tokens, whole.usage.completion_tokens)


async def test_a_stream_cut_midway_is_booked_from_what_was_seen(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    prompt = "a long story [[sim:fault=cut]]"
    stream = await oai.completions.create(model=MODEL, prompt=prompt, max_tokens=300, stream=True)
    seen = ""
    with pytest.raises(openai.APIError, match=r"cut|ended"):
        async for chunk in stream:
            seen += chunk.choices[0].text if chunk.choices else ""
    assert seen
    [row] = gateway.rows()
    assert row.stream and row.status == 200 and row.failure == "mid_stream"
    assert row.cost_estimated
    # ceil(characters / 4) + 3 for the prompt + 3 to prime the answer.
    assert row.usage.input_tokens == math.ceil(len(prompt) / 4) + 6
    assert row.usage.output_tokens >= math.ceil(len(seen) / 4)
    assert row.cost_usd == hand_cost(row.usage.input_tokens, row.usage.output_tokens)


@pytest.mark.parametrize(
    ("fault", "error"),
    [("429", openai.RateLimitError), ("500", openai.InternalServerError)],
)
async def test_upstream_faults_keep_their_status_and_are_booked(
    gateway: Gateway, oai: openai.AsyncOpenAI, fault: str, error: type[openai.APIStatusError]
) -> None:
    with pytest.raises(error):
        await oai.completions.create(model=MODEL, prompt=f"hi [[sim:fault={fault}]]")
    with pytest.raises(error):
        await oai.completions.create(
            model=MODEL, prompt=f"hi again [[sim:fault={fault}]]", stream=True
        )
    plain, streamed = gateway.rows()
    for row in (plain, streamed):
        assert (row.endpoint, row.status, row.failure) == (
            "/v1/completions",
            int(fault),
            "upstream",
        )
        assert row.error is not None and f"openai returned HTTP {fault}" in row.error
        assert row.cost_usd == 0
    assert streamed.stream and not plain.stream


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL}, "missing required field 'prompt'"),
        ({"model": MODEL, "prompt": []}, "'prompt' must not be an empty array"),
        ({"model": MODEL, "prompt": 12}, "'prompt' must be a string"),
        ({"model": MODEL, "prompt": ["a", None]}, "'prompt[1]' must be a string"),
        ({"model": MODEL, "prompt": [[]]}, "'prompt[0]' must be a string"),
        ({"model": MODEL, "prompt": "a", "max_tokens": -1}, "'max_tokens' must be a non-negative"),
        ({"model": MODEL, "prompt": "a", "n": 0}, "'n' must be a positive integer"),
        ({"model": MODEL, "prompt": "a", "stream": 1}, "'stream' must be a boolean"),
    ],
)
async def test_invalid_bodies_are_clear_400s_and_booked(
    gateway: Gateway, body: dict[str, object], message: str
) -> None:
    await assert_rejected(gateway, "/v1/completions", body, message)


async def test_an_anthropic_model_is_a_clear_400(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    await assert_refused_for_anthropic(
        gateway, oai.completions.create(model="claude-haiku-4-5", prompt="hi")
    )


async def test_the_sync_client_works_too(gateway: Gateway) -> None:
    def call() -> tuple[int, int]:
        with sync_client(gateway) as client:
            usage = client.completions.create(model=MODEL, prompt="sync").usage
            assert usage is not None
            return usage.prompt_tokens, usage.completion_tokens

    prompt, output = await asyncio.to_thread(call)
    [row] = gateway.rows()
    assert row.cost_usd == hand_cost(prompt, output)


async def test_the_unversioned_path_is_served_too(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post("/completions", json={"model": MODEL, "prompt": "hi"})
        unknown = await http.post("/v1/completion", json={"model": MODEL, "prompt": "hi"})
    assert response.status_code == 200 and response.json()["object"] == "text_completion"
    assert unknown.status_code == 404  # unknown routes stay a clear 404, not booked
    [row] = gateway.rows()
    assert row.endpoint == "/completions"
