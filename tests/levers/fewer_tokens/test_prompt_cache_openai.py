"""The planner on OpenAI requests: a byte-stable prefix, ``prompt_cache_key``, and the
cache reads it can claim."""

from __future__ import annotations

from typing import Any

from tests.levers.fewer_tokens.prompt_cache_kit import COUNTER, SYSTEM, openai_request, stage_for
from thrifty.levers.fewer_tokens.prompt_cache.openai import KEY_PREFIX
from thrifty.testing import FakeUpstream, reply
from thrifty.types import ChatRequest, TokenChange, Usage


def fn(name: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} tool.",
            "parameters": {"type": "object", "properties": props},
        },
    }


async def test_prompt_cache_key_per_prefix() -> None:
    upstream = FakeUpstream()
    handler = stage_for(upstream)
    await handler(openai_request(user="one"))
    await handler(openai_request(user="two"))
    await handler(openai_request(system="Another prompt entirely.", user="three"))
    keys = [r.body["prompt_cache_key"] for r in upstream.requests]
    assert keys[0] == keys[1] != keys[2]
    assert keys[0].startswith(KEY_PREFIX) and len(keys[0]) == len(KEY_PREFIX) + 24


async def test_the_apps_own_key_and_other_models_are_left_alone() -> None:
    upstream = FakeUpstream()
    handler = stage_for(upstream)
    own = openai_request(prompt_cache_key="mine")
    await handler(own)
    assert upstream.requests[-1] is own
    local = openai_request(model="llama-3.1-8b")  # an OpenAI-compatible server
    await handler(local)
    assert upstream.requests[-1] is local


async def test_the_key_can_be_turned_off() -> None:
    upstream = FakeUpstream()
    handler = stage_for(upstream, prompt_cache_key=False)
    request = openai_request()
    await handler(request)
    assert upstream.requests[-1] is request


async def test_tools_keep_their_first_order_and_key_order() -> None:
    upstream = FakeUpstream()
    handler = stage_for(upstream, prompt_cache_key=False)
    a = fn("alpha", x={"type": "string"}, y={"type": "integer"})
    b = fn("beta", z={"type": "string"})
    await handler(openai_request(tools=[a, b]))
    first = upstream.requests[-1]
    assert first.body["tools"] == [a, b]
    shuffled_a = fn("alpha", y={"type": "integer"}, x={"type": "string"})
    response = await handler(openai_request(tools=[b, shuffled_a]))
    sent = upstream.requests[-1].body["tools"]
    assert sent == [a, b]
    assert [list(t["function"]["parameters"]["properties"]) for t in sent] == [["x", "y"], ["z"]]
    assert "tools in their first-seen order" in response.steps[0].detail


def cached(tokens: int) -> Any:
    def answer(request: ChatRequest) -> Any:
        return reply(
            request, "ok", Usage(input_tokens=4_000, output_tokens=5, cache_read_tokens=tokens)
        )

    return answer


async def test_moved_date_books_the_reads_past_the_first_change() -> None:
    upstream = FakeUpstream(cached(3_200))
    handler = stage_for(upstream, prompt_cache_key=False)
    request = openai_request(system=f"Assistant for ACME.\nToday is 2026-11-30.\n{SYSTEM}")
    response = await handler(request)
    sent = upstream.requests[-1].body["messages"][0]["content"]
    assert sent == f"Assistant for ACME.\n{SYSTEM}\nToday is 2026-11-30."
    head = COUNTER.count_text("gpt-4o", "Assistant for ACME.").tokens
    assert response.steps[0].tokens == TokenChange(cache_read_tokens=3_200 - head)


async def test_reordered_tools_claim_every_read() -> None:
    upstream = FakeUpstream(cached(2_048))
    handler = stage_for(upstream, prompt_cache_key=False)
    a, b = fn("alpha"), fn("beta")
    await handler(openai_request(tools=[a, b]))
    response = await handler(openai_request(tools=[b, a]))
    assert response.steps[0].tokens == TokenChange(cache_read_tokens=2_048)


async def test_a_key_alone_claims_nothing() -> None:
    upstream = FakeUpstream(cached(2_048))
    handler = stage_for(upstream)
    response = await handler(openai_request())
    assert response.steps[0].detail == "prompt cache: prompt_cache_key"
    assert response.steps[0].tokens is None


async def test_reads_before_the_change_are_not_claimed() -> None:
    upstream = FakeUpstream(cached(0))
    handler = stage_for(upstream, prompt_cache_key=False)
    response = await handler(openai_request(system=f"{SYSTEM}\nDate: 2026-11-30\nBe brief."))
    assert response.steps[0].tokens is None


async def test_an_unreadable_body_passes_with_a_warning() -> None:
    upstream = FakeUpstream()
    handler = stage_for(upstream)
    request = openai_request()
    request.body["messages"] = "hello"
    response = await handler(request)
    assert upstream.requests[-1] is request
    assert response.headers["prompt-cache"] == "skipped-unreadable"


async def test_other_operations_pass() -> None:
    import dataclasses

    upstream = FakeUpstream()
    handler = stage_for(upstream)
    request = dataclasses.replace(openai_request(), api="responses")
    await handler(request)
    assert upstream.requests[-1] is request


async def test_a_prompt_that_changes_every_time_is_flagged() -> None:
    upstream = FakeUpstream()
    handler = stage_for(upstream, unstable_window=2, prompt_cache_key=False)
    flags = []
    for n in range(3):
        response = await handler(openai_request(system=f"Request {n}. {SYSTEM}"))
        flags.append(response.headers.get("prompt-cache"))
    assert flags == [None, "unstable-prefix", "unstable-prefix"]
    steady = await handler(openai_request(system="Stable.", task="t"))
    again = await handler(openai_request(system="Stable.", task="t"))
    assert "prompt-cache" not in steady.headers and "prompt-cache" not in again.headers
