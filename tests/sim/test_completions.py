"""/v1/completions (legacy text completions): wire shapes checked against the official
openai SDK's own types (strict pydantic validation), usage, caps, streams, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai.types import Completion, CompletionChoice, CompletionUsage

from thrifty.sim import count_tokens
from thrifty.sim.completions import DEFAULT_MAX_TOKENS


async def test_a_completion_matches_the_sdk_types(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/completions",
        json={"model": "gpt-3.5-turbo-instruct", "prompt": "Tell me", "max_tokens": 500},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    completion = Completion.model_validate(body, strict=True)
    assert completion.object == "text_completion" and completion.id.startswith("cmpl-")
    [choice] = completion.choices
    assert choice.finish_reason == "stop" and choice.text.startswith("Simulated reply")
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_tokens("Tell me")
    assert completion.usage.completion_tokens == count_tokens(choice.text)
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert "prompt_tokens_details" not in body["usage"]  # no prompt caching here


async def test_the_default_cap_is_sixteen_tokens(oai: openai.AsyncOpenAI) -> None:
    completion = await oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="Go on")
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == DEFAULT_MAX_TOKENS == 16


async def test_prompts_and_n_give_one_choice_each(oai: openai.AsyncOpenAI) -> None:
    completion = await oai.completions.create(
        model="gpt-3.5-turbo-instruct", prompt=["one", "two", [1, 2, 3]], n=2, max_tokens=10
    )
    assert [c.index for c in completion.choices] == list(range(6))
    texts = [c.text for c in completion.choices]
    assert texts[0] != texts[2] != texts[4]  # each prompt its own answer
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_tokens("one") + count_tokens("two") + 3
    assert completion.usage.completion_tokens == 6 * 10


async def test_echo_puts_the_prompt_first(oai: openai.AsyncOpenAI) -> None:
    completion = await oai.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Echo me:", echo=True, max_tokens=4
    )
    assert completion.choices[0].text.startswith("Echo me:Simulated")


@pytest.mark.parametrize("include_usage", [False, True])
async def test_a_stream_matches_the_plain_answer(
    http: httpx.AsyncClient, include_usage: bool
) -> None:
    body: dict[str, Any] = {"model": "gpt-3.5-turbo-instruct", "prompt": "Story", "max_tokens": 40}
    whole = (await http.post("/v1/completions", json=body)).json()
    streamed = {**body, "stream": True}
    if include_usage:
        streamed["stream_options"] = {"include_usage": True}
    response = await http.post("/v1/completions", json=streamed)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e.removeprefix("data: ") for e in response.text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    payloads = [json.loads(e) for e in events[:-1]]
    # Chunks are completions whose finish_reason is null until the last (the SDK types
    # require one, so chunks are checked against their field names, then constructed).
    for payload in payloads:
        assert payload.keys() <= Completion.model_fields.keys()
        assert all(c.keys() <= CompletionChoice.model_fields.keys() for c in payload["choices"])
    chunks = [Completion.model_construct(**p) for p in payloads]  # nested models too
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == whole["choices"][0]["text"]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == whole["choices"][0]["finish_reason"]
    assert all(f is None for f in finishes[:-1])
    usage_chunks = [c for c in chunks if c.usage is not None]
    if include_usage:
        [last] = usage_chunks
        assert last.choices == [] and last is chunks[-1]
        assert last.usage is not None
        CompletionUsage.model_validate(payloads[-1]["usage"], strict=True)
        assert last.usage.model_dump(exclude_none=True) == whole["usage"]
        assert all('"usage":null' in e for e in events[:-2])  # as OpenAI sends it
    else:
        assert usage_chunks == [] and all('"usage"' not in e for e in events[:-1])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-3.5-turbo-instruct"}, "prompt"),
        ({"model": "gpt-3.5-turbo-instruct", "prompt": []}, "prompt"),
        ({"model": "gpt-3.5-turbo-instruct", "prompt": [1, "a"]}, "prompt"),
        ({"model": "gpt-3.5-turbo-instruct", "prompt": {"a": 1}}, "prompt"),
        ({"model": "gpt-3.5-turbo-instruct", "prompt": "a", "max_tokens": -1}, "max_tokens"),
        ({"model": "gpt-3.5-turbo-instruct", "prompt": "a", "n": 0}, "n"),
    ],
)
async def test_bad_requests_name_the_parameter(
    http: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    response = await http.post("/v1/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"


async def test_a_missing_model_and_a_bad_body_are_400s(http: httpx.AsyncClient) -> None:
    missing = await http.post("/v1/completions", json={"prompt": "a"})
    garbage = await http.post("/v1/completions", content=b"{not json")
    assert missing.status_code == garbage.status_code == 400


async def test_the_fault_marker_works_in_the_prompt(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError):
        await oai.completions.create(
            model="gpt-3.5-turbo-instruct", prompt=["fine", "[[sim:fault=500]]"]
        )
