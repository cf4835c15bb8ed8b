"""A provider answers in the app's dialect even when the upstream speaks the other one."""

from __future__ import annotations

from typing import Any

import orjson
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from thrifty.config import ProviderSettings
from thrifty.providers import HttpPool, build_provider
from thrifty.types import Usage

from .fake_upstream import (
    KEY,
    FakeUpstream,
    Script,
    anthropic_request,
    anthropic_settings,
    drain,
    openai_request,
    openai_settings,
)
from .wire_payloads import (
    ANTHROPIC_CACHED_MESSAGE,
    ANTHROPIC_STREAM_EVENTS,
    OPENAI_CACHED_COMPLETION,
    OPENAI_STREAM_CHUNKS,
    anthropic_sse,
    openai_sse,
)


def events_of(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: {")]


async def test_openai_app_on_anthropic_upstream(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(body=ANTHROPIC_CACHED_MESSAGE))
    provider = build_provider("anthropic", anthropic_settings(upstream.url), pool, api_key=KEY)
    request = openai_request(
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "hi"},
        ]
    )
    response = await provider(request)
    sent = upstream.seen[0].body
    assert sent["system"] == [{"type": "text", "text": "Be terse."}]
    assert sent["max_tokens"] == 4096
    assert sent["model"] == "gpt-4.1"
    assert response.dialect == "openai"
    completion = ChatCompletion.model_validate(response.body)
    assert completion.choices[0].message.content == ANTHROPIC_CACHED_MESSAGE["content"][0]["text"]
    assert completion.usage is not None and completion.usage.prompt_tokens == 21 + 188086
    assert response.usage.cache_write_5m_tokens == 188086


async def test_anthropic_app_on_openai_upstream(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(body=OPENAI_CACHED_COMPLETION))
    local = ProviderSettings(dialect="openai", base_url=upstream.url + "/v1", local=True)
    provider = build_provider("local", local, pool, api_key=None)
    response = await provider(anthropic_request())
    sent = upstream.seen[0].body
    assert sent["max_tokens"] == 64  # local servers get the classic field
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    message = Message.model_validate(response.body)
    assert message.content[0].type == "text"
    assert message.usage.input_tokens == 2006 - 1920
    assert message.usage.cache_read_input_tokens == 1920
    assert response.usage == Usage(input_tokens=2006, output_tokens=300, cache_read_tokens=1920)


async def test_openai_app_streams_from_anthropic(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(chunks=[anthropic_sse(ANTHROPIC_STREAM_EVENTS)]))
    provider = build_provider("anthropic", anthropic_settings(upstream.url), pool, api_key=KEY)
    request = openai_request(stream=True, stream_options={"include_usage": True})
    response = await provider(request)
    assert "stream_options" not in upstream.seen[0].body
    events = await drain(response)
    assert response.stream_complete
    assert events[-1].raw == b"data: [DONE]\n\n"
    chunks = events_of(b"".join(e.raw for e in events))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello!"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 25 + 2048 + 300
    assert response.usage.output_tokens == 15


async def test_anthropic_app_streams_from_openai(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(chunks=[openai_sse(OPENAI_STREAM_CHUNKS)]))
    provider = build_provider("openai", openai_settings(upstream.url), pool, api_key=KEY)
    response = await provider(anthropic_request(stream=True))
    assert upstream.seen[0].body["stream_options"] == {"include_usage": True}
    events = await drain(response)
    assert response.stream_complete
    kinds = [e.event for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    delta = events[-2].data
    assert delta is not None
    assert delta["usage"]["input_tokens"] == 1117 - 1024
    assert delta["usage"]["cache_read_input_tokens"] == 1024
    assert delta["usage"]["output_tokens"] == 7
    assert response.usage == Usage(input_tokens=1117, output_tokens=7, cache_read_tokens=1024)
