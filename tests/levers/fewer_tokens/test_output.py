"""The output lever: per-task caps and stop sequences, built from the config, and answers
cut by their length limit flagged (header, step) in both dialects, streamed or not."""

from __future__ import annotations

from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.levers.fewer_tokens.output import OutputRule, build, output_stage, rules_of
from thrifty.testing import FakeUpstream, collect, reply, request_for, stream_reply
from thrifty.types import ChatRequest, ChatResponse

SETTINGS = Settings(
    levers={"output": {"enabled": True, "max_output_tokens": 500}},
    tasks={
        "summarize": {"output": {"max_output_tokens": 100, "stop_sequences": ["\n\n", "END"]}},
        "free": {"output": {"enabled": False}},
    },
)


async def test_caps_lower_the_limit_per_task_in_both_dialects() -> None:
    upstream = FakeUpstream()
    handler = output_stage(rules_of(SETTINGS))(upstream)
    response = await handler(request_for("gpt-4o", task="summarize", max_tokens=4000))
    assert upstream.requests[0].body["max_tokens"] == 100
    assert [s.lever for s in response.steps] == ["output", "output"]
    assert "4000 -> 100" in response.steps[0].detail

    await handler(request_for("claude-haiku-4-5", dialect="anthropic", task="other"))
    assert upstream.requests[1].body["max_tokens"] == 500  # the default cap (asked 1024)

    await handler(request_for("gpt-4o"))  # no limit asked: the cap is set
    assert upstream.requests[2].body["max_completion_tokens"] == 500


async def test_a_smaller_limit_and_a_disabled_task_are_left_alone() -> None:
    upstream = FakeUpstream()
    handler = output_stage(rules_of(SETTINGS))(upstream)
    request = request_for("gpt-4o", max_tokens=50)
    response = await handler(request)
    assert upstream.requests[0] is request and response.steps == []

    free = request_for("gpt-4o", task="free", max_tokens=9000)
    await handler(free)
    assert upstream.requests[1] is free


async def test_stop_sequences_are_added_to_the_apps_own() -> None:
    upstream = FakeUpstream()
    handler = output_stage(rules_of(SETTINGS))(upstream)
    response = await handler(request_for("gpt-4o", task="summarize", stop="###", max_tokens=9))
    assert upstream.requests[0].body["stop"] == ["###", "\n\n", "END"]
    assert response.steps[-1].detail == "stop sequences added: 2"

    await handler(request_for("claude-haiku-4-5", dialect="anthropic", task="summarize"))
    assert upstream.requests[1].body["stop_sequences"] == ["\n\n", "END"]

    # OpenAI takes four at most: the app's come first; a stop already there is not repeated
    await handler(request_for("gpt-4o", task="summarize", stop=["a", "b", "END"], max_tokens=9))
    assert upstream.requests[2].body["stop"] == ["a", "b", "END", "\n\n"]
    full = request_for("gpt-4o", task="summarize", stop=["a", "b", "c", "d"], max_tokens=9)
    await handler(full)
    assert upstream.requests[3] is full


async def test_reasoning_models_that_refuse_stop_get_none() -> None:
    upstream = FakeUpstream()
    handler = output_stage({None: OutputRule(stop_sequences=("END",))})(upstream)
    request = request_for("o3-mini")
    await handler(request)
    assert upstream.requests[0] is request


def cut(request: ChatRequest) -> ChatResponse:
    return reply(request, "the answer was cut", truncated=True)


@pytest.mark.parametrize(
    ("model", "dialect"), [("gpt-4o", "openai"), ("claude-haiku-4-5", "anthropic")]
)
async def test_a_truncated_answer_gets_a_step_naming_the_limit(model: str, dialect: Any) -> None:
    handler = output_stage({None: OutputRule(max_output_tokens=50)})(FakeUpstream(cut))
    response = await handler(request_for(model, dialect=dialect))
    assert response.truncated and response.headers == {}  # the gateway's header: the fact
    assert response.steps[-1].detail == "output: truncated at 50 tokens"

    whole = await output_stage({None: OutputRule()})(FakeUpstream())(
        request_for(model, dialect=dialect)
    )
    assert whole.headers == {} and whole.steps == []


async def test_the_body_text_alone_is_not_the_fact() -> None:
    """The provider reads the upstream's answer; a body that says "length" on a response
    the provider did not mark (a lever's own rewrite) gets no step."""

    def says_length(request: ChatRequest) -> ChatResponse:
        response = reply(request)
        assert response.body is not None
        response.body["choices"][0]["finish_reason"] = "length"
        return response

    handler = output_stage({None: OutputRule()})(FakeUpstream(says_length))
    assert (await handler(request_for("gpt-4o"))).steps == []


@pytest.mark.parametrize(
    ("model", "dialect"), [("gpt-4o", "openai"), ("claude-haiku-4-5", "anthropic")]
)
async def test_a_truncated_stream_gets_a_step_before_it_completes(model: str, dialect: Any) -> None:
    handler = output_stage({None: OutputRule()})(
        FakeUpstream(lambda r: stream_reply(r, ("a", "b"), truncated=True))
    )
    response = await handler(request_for(model, dialect=dialect, stream=True))
    events = await collect(response)
    assert events and response.stream_complete and response.truncated
    limit = "1024 tokens" if dialect == "anthropic" else "the model's own limit"
    assert response.steps[-1].detail == f"output: truncated at {limit}"
    assert response.headers == {}

    plain = await output_stage({None: OutputRule()})(FakeUpstream(lambda r: stream_reply(r)))(
        request_for(model, dialect=dialect, stream=True)
    )
    await collect(plain)
    assert plain.steps == []


async def test_the_lever_is_off_unless_enabled_and_reads_chat_only() -> None:
    class Parts:
        settings = Settings()

    assert await build(Parts()) is None  # type: ignore[arg-type]

    class On:
        settings = Settings(levers={"output": {"enabled": True}})

    assert await build(On()) is not None  # type: ignore[arg-type]

    from dataclasses import replace

    upstream = FakeUpstream(cut)
    embeddings = replace(request_for("gpt-4o"), api="embeddings")
    response = await output_stage({None: OutputRule(max_output_tokens=5)})(upstream)(embeddings)
    assert upstream.requests[0] is embeddings and response.headers == {}


def test_stop_sequence_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="cannot be empty"):
        Settings(levers={"output": {"stop_sequences": [""]}})
    with pytest.raises(ValueError):
        Settings(levers={"output": {"stop_sequences": ["a", "b", "c", "d", "e"]}})
