"""The real APIs' rules on stop fields and tool turns, as the simulator answers them: the
400 (status, type, param, code, message) for a body the provider refuses, an answer for one
it takes; and, for random well-formed tool conversations, acceptance as built and a 400
once any one answer is dropped or moved away from its call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.sim.anthropic_wire import AnthropicDialect
from thrifty.sim.dialect import BadRequest
from thrifty.sim.openai_wire import OpenAIDialect

ASK = {"role": "user", "content": "hi"}
TEXT = {"type": "text", "text": "here:"}
GPT, CLAUDE = "gpt-4o", "claude-sonnet-4-6"


async def chat(http: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await http.post("/v1/chat/completions", json={"model": GPT, **body})


async def messages(http: httpx.AsyncClient, **body: Any) -> httpx.Response:
    payload = {"model": CLAUDE, "max_tokens": 20, **body}
    return await http.post("/v1/messages", json=payload, headers={"anthropic-version": "x"})


def call(*ids: str) -> dict[str, Any]:
    calls = [
        {"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}} for i in ids
    ]
    return {"role": "assistant", "content": None, "tool_calls": calls}


def answer(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "42"}


def use(*ids: str) -> dict[str, Any]:
    blocks = [{"type": "tool_use", "id": i, "name": "f", "input": {}} for i in ids]
    return {"role": "assistant", "content": blocks}


def result(*ids: str, text: str | None = None) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "tool_result", "tool_use_id": i, "content": "42"} for i in ids
    ]
    if text is not None:
        blocks.append({"type": "text", "text": text})
    return {"role": "user", "content": blocks}


@pytest.mark.parametrize(
    "stop", [None, "END", [], ["a", "b", "c", "d"]], ids=["null", "str", "empty", "four"]
)
async def test_openai_takes_a_string_or_up_to_four_strings(
    http: httpx.AsyncClient, stop: Any
) -> None:
    assert (await chat(http, messages=[ASK], stop=stop)).status_code == 200
    legacy = await http.post("/v1/completions", json={"model": GPT, "prompt": "hi", "stop": stop})
    assert legacy.status_code == 200


@pytest.mark.parametrize(
    ("stop", "param", "code", "says"),
    [
        (5, "stop", "invalid_type", "but got an integer instead"),
        ({"a": "b"}, "stop", "invalid_type", "but got an object instead"),
        (True, "stop", "invalid_type", "but got a boolean instead"),
        (["a", 1], "stop[1]", "invalid_type", "expected a string, but got an integer"),
        (list("abcde"), "stop", "array_above_max_length", "got an array with length 5"),
    ],
)
async def test_openai_refuses_other_stops(
    http: httpx.AsyncClient, stop: Any, param: str, code: str, says: str
) -> None:
    for response in (
        await chat(http, messages=[ASK], stop=stop),
        await http.post("/v1/completions", json={"model": GPT, "prompt": "hi", "stop": stop}),
    ):
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["type"], error["param"], error["code"]) == (
            "invalid_request_error",
            param,
            code,
        )
        assert says in error["message"]


@pytest.mark.parametrize("stops", [None, [], ["END", "###", "a", "b", "c"]])
async def test_anthropic_takes_a_list_of_strings(http: httpx.AsyncClient, stops: Any) -> None:
    assert (await messages(http, messages=[ASK], stop_sequences=stops)).status_code == 200


@pytest.mark.parametrize(
    ("stops", "message"),
    [
        ("END", "stop_sequences: Input should be a valid list"),
        ({"a": 1}, "stop_sequences: Input should be a valid list"),
        (["a", None], "stop_sequences.1: Input should be a valid string"),
    ],
)
async def test_anthropic_refuses_other_stop_sequences(
    http: httpx.AsyncClient, stops: Any, message: str
) -> None:
    response = await messages(http, messages=[ASK], stop_sequences=stops)
    assert response.status_code == 400
    assert response.json()["error"] == {"type": "invalid_request_error", "message": message}


@pytest.mark.parametrize(
    "conversation",
    [
        [ASK, call("a", "b"), answer("b"), answer("a"), {"role": "assistant", "content": "ok"}],
        [ASK, call("a"), answer("a"), call("b"), answer("b")],
        [ASK, call("a")],  # the calls of the last message wait for their answers
        [{"role": "system", "content": "s"}, ASK, call("a"), answer("a"), ASK],
    ],
)
async def test_openai_takes_answers_right_after_their_calls(
    http: httpx.AsyncClient, conversation: list[dict[str, Any]]
) -> None:
    assert (await chat(http, messages=conversation)).status_code == 200


@pytest.mark.parametrize(
    ("conversation", "param", "says"),
    [
        ([answer("a"), ASK], "messages.[0].role", "must be a response to a preceeding"),
        ([ASK, answer("a")], "messages.[1].role", "must be a response to a preceeding"),
        ([ASK, call("a"), answer("b")], "messages.[2].tool_call_id", "'b' not found"),
        ([ASK, call("a"), answer("a"), answer("a")], "messages.[3].tool_call_id", "not found"),
        ([ASK, call("a"), ASK, answer("a")], "messages.[1].role", "did not have response"),
        ([ASK, call("a", "b"), answer("a")], "messages.[1].role", "messages: b"),
        ([ASK, call("a", "b"), answer("b"), ASK], "messages.[1].role", "messages: a"),
    ],
)
async def test_openai_refuses_an_answer_away_from_its_call(
    http: httpx.AsyncClient, conversation: list[dict[str, Any]], param: str, says: str
) -> None:
    response = await chat(http, messages=conversation)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, None)
    assert says in error["message"]


@pytest.mark.parametrize(
    "conversation",
    [
        [ASK, use("a", "b"), result("b", "a", text="go on")],
        [ASK, use("a"), result("a"), use("b"), result("b")],
        [ASK, use("a")],  # the calls of the last turn wait for their answers
        [ASK, use("a"), result("a"), ASK],  # one user turn in two messages
    ],
)
async def test_anthropic_takes_results_in_the_turn_after_their_calls(
    http: httpx.AsyncClient, conversation: list[dict[str, Any]]
) -> None:
    assert (await messages(http, messages=conversation)).status_code == 200


@pytest.mark.parametrize(
    ("conversation", "says"),
    [
        ([result("a")], "messages.0.content.0: unexpected `tool_use_id` found in `tool_result`"),
        ([ASK, use("a"), result("a", "b")], "messages.2.content.1: unexpected `tool_use_id`"),
        ([ASK, use("a"), result("a"), ASK, result("a")], "messages.4.content.0: unexpected"),
        ([ASK, use("a"), ASK], "messages.1: `tool_use` ids were found without `tool_result`"),
        (
            [ASK, use("a", "b"), result("b", text="x")],
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
            "after: a. Each `tool_use` block must have a corresponding `tool_result` block in "
            "the next message.",
        ),
        ([ASK, use("a"), {"role": "assistant", "content": "hm"}, result("a")], "messages.1: `"),
        ([ASK, use("a"), ASK, result("a")], "messages.1: `tool_use` ids were found without"),
        (
            [ASK, use("a"), {"role": "user", "content": [{"type": "text", "text": "x"}]}],
            "messages.1: `tool_use` ids",
        ),
        (
            [ASK, use("a"), {"role": "user", "content": [TEXT, result("a")["content"][0]]}],
            "messages.1: `tool_use` ids were found",  # the results open the message
        ),
    ],
)
async def test_anthropic_refuses_a_result_away_from_its_call(
    http: httpx.AsyncClient, conversation: list[dict[str, Any]], says: str
) -> None:
    response = await messages(http, messages=conversation)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith(says)


@st.composite
def tool_conversations(draw: st.DrawFn, dialect: str) -> list[dict[str, Any]]:
    """User questions, each answered with text or with one to three calls and their
    answers (in any order), then a last question, maybe with calls waiting for answers."""
    out: list[dict[str, Any]] = []
    for turn in range(draw(st.integers(1, 5))):
        out.append({"role": "user", "content": f"q{turn}"})
        ids = [f"c{turn}_{i}" for i in range(draw(st.integers(0, 3)))]
        if not ids:
            out.append({"role": "assistant", "content": "ok"})
            continue
        answered = draw(st.permutations(ids))
        if dialect == "openai":
            out += [call(*ids), *map(answer, answered)]
        else:
            out += [use(*ids), result(*answered)]
        out.append({"role": "assistant", "content": "done"})
    out.append({"role": "user", "content": "more"})
    if draw(st.booleans()):
        out.append(call("z") if dialect == "openai" else use("z"))
    return out


def prepare(dialect: str, conversation: list[dict[str, Any]]) -> None:
    if dialect == "openai":
        OpenAIDialect().prepare({"model": GPT, "messages": conversation})
    else:
        AnthropicDialect().prepare({"model": CLAUDE, "max_tokens": 9, "messages": conversation})


def answers_at(conversation: list[dict[str, Any]]) -> list[int]:
    return [
        i
        for i, m in enumerate(conversation)
        if m["role"] == "tool" or (m["role"] == "user" and isinstance(m["content"], list))
    ]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_dropping_or_moving_any_answer_is_refused(data: st.DataObject) -> None:
    dialect = data.draw(st.sampled_from(["openai", "anthropic"]))
    conversation = data.draw(tool_conversations(dialect))
    prepare(dialect, conversation)  # well formed: taken
    spots = answers_at(conversation)
    if not spots:
        return
    spot = data.draw(st.sampled_from(spots))
    dropped = conversation[:spot] + conversation[spot + 1 :]
    with pytest.raises(BadRequest):
        prepare(dialect, dropped)
    with pytest.raises(BadRequest):  # after the last message instead
        prepare(dialect, [*dropped, conversation[spot]])
