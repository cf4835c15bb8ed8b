"""RequestView: edits written back in each dialect."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from tests.dialects.view_bodies import anthropic_body, openai_body, req
from thrifty.dialects.view import (
    RequestView,
    Turn,
    text_part,
    tool_call_part,
    tool_result_part,
)

# -- edits ----------------------------------------------------------------------------------------


def test_with_max_output_tokens_openai_keeps_the_apps_field() -> None:
    body = openai_body()
    snapshot = copy.deepcopy(body)
    request = req("openai", body)
    edited = RequestView.of(request).with_max_output_tokens(100)
    assert edited.body == {**snapshot, "max_tokens": 100}
    assert body == snapshot
    assert dataclasses.replace(edited, body=body) == request  # nothing else changed

    no_cap = req("openai", {"messages": []})
    assert RequestView.of(no_cap).with_max_output_tokens(5).body == {
        "messages": [],
        "max_completion_tokens": 5,
    }
    both = req("openai", {"max_tokens": 9, "max_completion_tokens": 9})
    assert RequestView.of(both).with_max_output_tokens(5).body == {
        "max_tokens": 5,
        "max_completion_tokens": 5,
    }
    assert RequestView.of(request).with_max_output_tokens(300) is request
    with pytest.raises(ValueError):
        RequestView.of(request).with_max_output_tokens(0)


def test_with_max_output_tokens_anthropic() -> None:
    request = req("anthropic", anthropic_body())
    edited = RequestView.of(request).with_max_output_tokens(64)
    assert edited.body == {**anthropic_body(), "max_tokens": 64}
    assert RequestView.of(edited).max_output_tokens == 64
    assert request.body == anthropic_body()


def test_with_stop() -> None:
    openai = req("openai", openai_body())
    assert RequestView.of(openai).with_stop(["A", "B"]).body == {
        **openai_body(),
        "stop": ["A", "B"],
    }
    no_stop = {k: v for k, v in openai_body().items() if k != "stop"}
    assert RequestView.of(openai).with_stop([]).body == no_stop
    anthropic = req("anthropic", anthropic_body())
    assert RequestView.of(anthropic).with_stop("X").body == {
        **anthropic_body(),
        "stop_sequences": ["X"],
    }
    assert RequestView.of(anthropic).with_stop(["END"]) is anthropic
    assert RequestView.of(req("anthropic", {"messages": []})).with_stop([]).body == {"messages": []}


def test_with_system_openai() -> None:
    request = req("openai", openai_body())
    edited = RequestView.of(request).with_system("Be brief.")
    expected = openai_body()
    expected["messages"] = [{"role": "system", "content": "Be brief."}, *expected["messages"][2:]]
    assert edited.body == expected
    assert RequestView.of(edited).system == "Be brief."

    removed = RequestView.of(request).with_system(None)
    assert removed.body["messages"] == openai_body()["messages"][2:]

    dev = req("openai", {"messages": [{"role": "developer", "content": "A"}, {"role": "user"}]})
    assert RequestView.of(dev).with_system("B").body["messages"] == [
        {"role": "developer", "content": "B"},
        {"role": "user"},
    ]
    assert RequestView.of(dev).with_system("A") is dev
    bare = req("openai", {"messages": [{"role": "user", "content": "hi"}]})
    assert RequestView.of(bare).with_system("S").body["messages"] == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "hi"},
    ]
    assert RequestView.of(bare).with_system(None) is bare


def test_with_system_anthropic() -> None:
    request = req("anthropic", anthropic_body())
    edited = RequestView.of(request).with_system("Be brief.")
    # Blocks stay blocks, and the prompt-cache breakpoint on the last block is kept.
    assert edited.body == {
        **anthropic_body(),
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    }
    stringy = req("anthropic", {"system": "Old", "messages": []})
    assert RequestView.of(stringy).with_system("New").body == {"system": "New", "messages": []}
    assert RequestView.of(stringy).with_system("").body == {"messages": []}
    assert RequestView.of(stringy).with_system("Old") is stringy
    assert request.body == anthropic_body()


def test_with_messages_trims_and_round_trips_openai() -> None:
    body = openai_body()
    request = req("openai", body)
    view = RequestView.of(request)
    trimmed = view.with_messages(view.messages[3:])
    expected = openai_body()
    expected["messages"] = expected["messages"][:2] + expected["messages"][5:]
    assert trimmed.body == expected
    # Unchanged turns are written back as the body's own objects.
    assert trimmed.body["messages"][2] is body["messages"][5]
    assert trimmed.body["messages"][3] is body["messages"][6]
    assert RequestView.of(trimmed).messages == view.messages[3:]
    assert RequestView.of(trimmed).system == view.system
    assert view.with_messages(list(view.messages)) is request


def test_with_messages_trims_and_round_trips_anthropic() -> None:
    body = anthropic_body()
    request = req("anthropic", body)
    view = RequestView.of(request)
    trimmed = view.with_messages(view.messages[1:])
    assert trimmed.body == {**anthropic_body(), "messages": anthropic_body()["messages"][1:]}
    assert trimmed.body["messages"][0] is body["messages"][1]
    assert trimmed.body["system"] is body["system"]
    assert view.with_messages(view.messages) is request


def _built_conversation() -> list[Turn]:
    return [
        Turn.of("user", "Paris and Rome?"),
        Turn(
            "assistant",
            (
                text_part("Checking both."),
                tool_call_part("c1", "get_weather", {"city": "Paris"}),
                tool_call_part("c2", "get_weather", {"city": "Rome"}),
            ),
        ),
        Turn("tool", (tool_result_part("c1", "18C"),)),
        Turn("tool", (tool_result_part("c2", "no data", is_error=True),)),
        Turn.of("user", "Thanks"),
    ]


def test_with_messages_writes_built_turns_as_openai() -> None:
    request = req("openai", openai_body())
    edited = RequestView.of(request).with_messages(_built_conversation())
    assert edited.body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "developer", "content": [{"type": "text", "text": "No emoji."}]},
        {"role": "user", "content": "Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "tool", "tool_call_id": "c2", "content": "no data"},
        {"role": "user", "content": "Thanks"},
    ]
    assert {k: v for k, v in edited.body.items() if k != "messages"} == {
        k: v for k, v in openai_body().items() if k != "messages"
    }


def test_with_messages_writes_built_turns_as_anthropic() -> None:
    request = req("anthropic", anthropic_body())
    edited = RequestView.of(request).with_messages(_built_conversation())
    assert edited.body == {
        **anthropic_body(),
        "messages": [
            {"role": "user", "content": "Paris and Rome?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking both."},
                    {
                        "type": "tool_use",
                        "id": "c1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "c2",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "c1", "content": "18C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "c2",
                        "content": "no data",
                        "is_error": True,
                    },
                ],
            },
            {"role": "user", "content": "Thanks"},
        ],
    }
    with pytest.raises(ValueError, match="with_system"):
        RequestView.of(request).with_messages([Turn.of("system", "x")])


def test_anthropic_user_turn_with_results_becomes_openai_tool_messages() -> None:
    anthropic_turn = RequestView.of(req("anthropic", anthropic_body())).messages[2]
    edited = RequestView.of(req("openai", {"messages": []})).with_messages([anthropic_turn])
    assert edited.body["messages"] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "user", "content": "Thanks"},
    ]


def test_changed_turn_is_rewritten_and_keeps_its_unchanged_blocks() -> None:
    body = anthropic_body()
    view = RequestView.of(req("anthropic", body))
    turn = view.messages[1]
    shorter = dataclasses.replace(turn, parts=(turn.parts[0], text_part("OK."), turn.parts[2]))
    edited = view.with_messages([view.messages[0], shorter])
    written = edited.body["messages"][1]
    assert written == {
        "role": "assistant",
        "content": [
            body["messages"][1]["content"][0],
            {"type": "text", "text": "OK."},
            body["messages"][1]["content"][2],
        ],
    }
    assert written["content"][0] is body["messages"][1]["content"][0]  # signed thinking kept
    assert edited.body["messages"][0] is body["messages"][0]
    assert body == anthropic_body()

    named = {"role": "user", "name": "ann", "content": "hi"}
    oview = RequestView.of(req("openai", {"messages": [named]}))
    renamed = dataclasses.replace(oview.messages[0], parts=(text_part("hello"),))
    assert oview.with_messages([renamed]).body["messages"] == [
        {"role": "user", "name": "ann", "content": "hello"}
    ]


def test_edits_keep_every_other_request_field() -> None:
    request = req(
        "openai", openai_body(), task="summarize", tenant="acme", stream=True, requested_alias="x"
    )
    view = RequestView.of(request)
    for edited in (
        view.with_max_output_tokens(7),
        view.with_stop(["Z"]),
        view.with_system("S"),
        view.with_messages(view.messages[-1:]),
    ):
        assert edited is not request
        assert edited.body is not request.body
        assert dataclasses.replace(edited, body=request.body) == request
