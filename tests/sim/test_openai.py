"""The official openai SDK against the simulator (in-process ASGI transport)."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from thrifty.sim import count_tokens


def words(n: int, salt: str = "") -> str:
    return " ".join(f"w{salt}{i % 97}" for i in range(n))  # n tokens (with a short salt)


async def test_non_stream_shape_and_usage(oai: openai.AsyncOpenAI) -> None:
    resp = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there"}]
    )
    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "gpt-4o-mini"
    choice = resp.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    text = choice.message.content or ""
    assert text.startswith("Simulated reply ")
    usage = resp.usage
    assert usage is not None
    assert usage.completion_tokens == count_tokens(text)
    assert 20 <= usage.completion_tokens <= 80
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0


async def test_deterministic(oai: openai.AsyncOpenAI) -> None:
    msgs: list[ChatCompletionMessageParam] = [{"role": "user", "content": "same question"}]
    a = await oai.chat.completions.create(model="m1", messages=msgs)
    b = await oai.chat.completions.create(model="m1", messages=msgs)
    c = await oai.chat.completions.create(model="m2", messages=msgs)
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.choices[0].message.content != c.choices[0].message.content


async def test_max_tokens_caps_with_length(oai: openai.AsyncOpenAI) -> None:
    resp = await oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=5
    )
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage is not None and resp.usage.completion_tokens == 5
    resp = await oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=7
    )
    assert resp.usage is not None and resp.usage.completion_tokens == 7


async def test_echo(oai: openai.AsyncOpenAI) -> None:
    resp = await oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": [{"type": "text", "text": "ping me [[sim:echo]]"}]}],
    )
    assert resp.choices[0].message.content == "ping me"


async def test_stream_with_usage(oai: openai.AsyncOpenAI) -> None:
    msgs: list[ChatCompletionMessageParam] = [{"role": "user", "content": "stream please"}]
    full = await oai.chat.completions.create(model="gpt-4o", messages=msgs)
    stream = await oai.chat.completions.create(
        model="gpt-4o",
        messages=msgs,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == full.usage.completion_tokens  # type: ignore[union-attr]
    assert all(c.usage is None for c in chunks[:-1])


async def test_stream_without_usage_raw(http: httpx.AsyncClient) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": True}
    resp = await http.post("/v1/chat/completions", json=body)
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [e for e in resp.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert '"usage"' not in resp.text


async def test_prompt_cache_above_threshold(oai: openai.AsyncOpenAI) -> None:
    system = words(1500)
    first = await oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": system}, {"role": "user", "content": "q1"}],
    )
    assert first.usage is not None and first.usage.prompt_tokens_details is not None
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    second = await oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": system}, {"role": "user", "content": "q2"}],
    )
    usage = second.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    cached = usage.prompt_tokens_details.cached_tokens
    assert cached is not None
    assert cached >= 1024 and cached % 128 == 0
    assert usage.prompt_tokens - 128 < cached <= usage.prompt_tokens  # prompt_tokens includes it
    other = await oai.chat.completions.create(
        model="gpt-4o-mini",  # caches are per model
        messages=[{"role": "system", "content": system}, {"role": "user", "content": "q2"}],
    )
    assert other.usage is not None and other.usage.prompt_tokens_details is not None
    assert other.usage.prompt_tokens_details.cached_tokens == 0


async def test_no_prompt_cache_below_threshold(oai: openai.AsyncOpenAI) -> None:
    system = words(400)
    for _ in range(2):
        resp = await oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "system", "content": system}, {"role": "user", "content": "q"}],
        )
        assert resp.usage is not None and resp.usage.prompt_tokens < 1024
        assert resp.usage.prompt_tokens_details is not None
        assert resp.usage.prompt_tokens_details.cached_tokens == 0


async def test_bad_key_401(oai: openai.AsyncOpenAI) -> None:
    bad = oai.with_options(api_key="sim-bad-key")
    with pytest.raises(openai.AuthenticationError) as info:
        await bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"


@pytest.mark.parametrize(
    ("content", "param", "code"),
    [
        (b"{not json", None, None),
        (b'{"model": "m"}', "messages", "missing_required_parameter"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', None, None),
        (b'{"model": "m", "messages": []}', "messages", "empty_array"),
    ],
)
async def test_bad_input_400(
    http: httpx.AsyncClient, content: bytes, param: str | None, code: str | None
) -> None:
    resp = await http.post(
        "/v1/chat/completions", content=content, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    assert error["message"]


async def test_bad_input_sdk_raises(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await oai.chat.completions.create(model="m", messages=[])


async def test_models_and_health(oai: openai.AsyncOpenAI, http: httpx.AsyncClient) -> None:
    models = await oai.models.list()
    ids = [m.id async for m in models]
    assert "gpt-4o-mini" in ids
    assert (await http.get("/health")).json() == {"status": "ok"}
