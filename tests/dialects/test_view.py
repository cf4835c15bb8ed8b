from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from thrifty.dialects.view import (
    Part,
    RequestView,
    Tool,
    Turn,
    text_part,
    tool_call_part,
    tool_result_part,
)
from thrifty.types import ChatRequest, Dialect


def req(dialect: Dialect, body: Any, **kw: Any) -> ChatRequest:
    model = body.get("model", "m") if isinstance(body, dict) else "m"
    return ChatRequest(
        dialect=dialect, body=body, model=kw.pop("model", model), requested_model=model, **kw
    )


def key(dialect: Dialect, body: Any, **kw: Any) -> str:
    return RequestView.of(req(dialect, body, **kw)).cache_key()


WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def openai_body() -> dict[str, Any]:
    return {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": [{"type": "text", "text": "No emoji."}]},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "assistant", "content": "18C in Paris."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "And this?"},
                    {"type": "image_url", "image_url": {"url": "https://x/img.png"}},
                ],
            },
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Get the weather",
                    "parameters": WEATHER_SCHEMA,
                },
            }
        ],
        "max_tokens": 300,
        "temperature": 0.2,
        "stop": "END",
        "seed": 7,
        "response_format": {"type": "json_object"},
    }


def anthropic_body() -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 500,
        "system": [
            {"type": "text", "text": "Be terse."},
            {"type": "text", "text": "No emoji.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "18C"}],
                    },
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Get the weather",
                "input_schema": WEATHER_SCHEMA,
            },
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        ],
        "temperature": 0.5,
        "top_k": 40,
        "stop_sequences": ["END"],
    }


# -- reading ---------------------------------------------------------------------------------


def test_openai_read() -> None:
    body = openai_body()
    view = RequestView.of(req("openai", body, stream=True))
    assert view.system == "Be terse.\nNo emoji."
    assert [p.text for p in view.system_parts] == ["Be terse.", "No emoji."]
    roles = [t.role for t in view.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    assert view.messages[0] == Turn(
        "user", (text_part("Weather in Paris?"),), body["messages"][2], "openai"
    )
    call = view.messages[1].parts[0]
    assert (call.kind, call.id, call.name, call.input) == (
        "tool_call",
        "call_1",
        "get_weather",
        {"city": "Paris"},
    )
    assert view.messages[1].tool_calls == (call,)
    result = view.messages[2].parts[0]
    assert (result.kind, result.id, result.all_text) == ("tool_result", "call_1", "18C")
    assert view.messages[2].tool_results == (result,)
    assert view.messages[2].text == "18C"
    last = view.messages[4]
    assert last.text == "And this?"
    assert last.parts[1].kind == "other"
    assert last.parts[1].raw is body["messages"][6]["content"][1]
    assert view.tools == (
        Tool("get_weather", "Get the weather", WEATHER_SCHEMA, "function", body["tools"][0]),
    )
    assert view.max_output_tokens == 300
    assert view.sampling == {"temperature": 0.2, "stop": ["END"], "seed": 7}
    assert view.stop == ["END"]
    assert view.response_format == {"type": "json_object"}
    assert view.stream is True


def test_openai_max_completion_tokens_wins_and_bools_are_not_counts() -> None:
    body = {"messages": [], "max_completion_tokens": 50, "max_tokens": 80}
    assert RequestView.of(req("openai", body)).max_output_tokens == 50
    assert RequestView.of(req("openai", {"max_tokens": 80})).max_output_tokens == 80
    assert RequestView.of(req("openai", {"max_tokens": True})).max_output_tokens is None
    assert RequestView.of(req("openai", {})).max_output_tokens is None


def test_anthropic_read() -> None:
    body = anthropic_body()
    view = RequestView.of(req("anthropic", body))
    assert view.system == "Be terse.\nNo emoji."
    assert view.system_parts[1].raw is body["system"][1]
    assert [t.role for t in view.messages] == ["user", "assistant", "user"]
    thinking, text, call = view.messages[1].parts
    assert thinking == Part("other", raw=body["messages"][1]["content"][0])
    assert text.text == "Checking."
    assert (call.kind, call.id, call.name, call.input) == (
        "tool_call",
        "toolu_1",
        "get_weather",
        {"city": "Paris"},
    )
    result, thanks = view.messages[2].parts
    assert (result.kind, result.id, result.is_error, result.all_text) == (
        "tool_result",
        "toolu_1",
        False,
        "18C",
    )
    assert thanks.text == "Thanks"
    assert view.messages[2].text == "18C\nThanks"
    assert view.tools[0] == Tool(
        "get_weather", "Get the weather", WEATHER_SCHEMA, "function", body["tools"][0]
    )
    assert view.tools[1] == Tool("web_search", None, None, "web_search_20250305", body["tools"][1])
    assert view.max_output_tokens == 500
    assert view.sampling == {"temperature": 0.5, "top_k": 40, "stop": ["END"]}
    assert view.response_format is None
    assert view.stream is False


def test_anthropic_system_string_and_response_format() -> None:
    schema = {"type": "json_schema", "schema": {"type": "object"}}
    view = RequestView.of(
        req("anthropic", {"system": "Hi", "messages": [], "output_config": {"format": schema}})
    )
    assert view.system == "Hi"
    assert view.response_format == schema
    assert RequestView.of(req("anthropic", {"output_format": schema})).response_format == schema
    assert RequestView.of(req("anthropic", {"messages": []})).system is None


def test_anthropic_tool_error_result() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": "boom", "is_error": True}
                ],
            }
        ]
    }
    (part,) = RequestView.of(req("anthropic", body)).messages[0].parts
    assert part.is_error
    assert part.content == (text_part("boom"),)


# -- odd shapes: read what can be read, never crash --------------------------------------------


ODD_OPENAI: list[Any] = [
    {"messages": "not a list"},
    {"messages": [42, None, "text", {"role": 5, "content": 3}]},
    {"messages": [{"role": "user", "content": [1, {"type": "text", "text": 9}, {"type": "x"}]}]},
    {"messages": [{"role": "assistant", "content": None, "tool_calls": "nope"}]},
    {"messages": [{"role": "assistant", "tool_calls": [7, {"type": "function"}]}]},
    {"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{bad"}}]}]},
    {"messages": [{"role": "tool", "content": {"a": 1}}]},
    {"messages": [{"content": "no role"}], "tools": "x", "max_tokens": "10", "stop": 5},
    {"messages": [], "tools": [1, {"type": "function", "function": "x"}, {"type": "custom"}]},
    {"messages": [{"role": "user", "content": {1, 2}}], "temperature": {3}},  # not JSON at all
]
ODD_ANTHROPIC: list[Any] = [
    {"messages": None, "system": 5},
    {"messages": [{"role": "user", "content": 3}], "system": [1, {"type": "text"}]},
    {"messages": [{"role": "user", "content": [None, {"type": "tool_result", "content": 4}]}]},
    {"messages": [{"role": "assistant", "content": [{"type": "tool_use"}]}], "tools": [None]},
    {"messages": [{"role": "user", "content": "hi"}], "max_tokens": "lots"},
]


def _read_everything(view: RequestView) -> None:
    for turn in view.messages:
        assert isinstance(turn.text, str)
        for part in turn.parts:
            assert isinstance(part.all_text, str)
    _ = (view.system, view.tools, view.max_output_tokens, view.sampling, view.stop)
    _ = (view.response_format, view.stream)
    digest = view.cache_key()
    assert len(digest) == 64 and int(digest, 16) >= 0


@pytest.mark.parametrize("body", ODD_OPENAI)
def test_odd_openai_bodies_are_read_not_crashed(body: Any) -> None:
    _read_everything(RequestView.of(req("openai", body)))


@pytest.mark.parametrize("body", ODD_ANTHROPIC)
def test_odd_anthropic_bodies_are_read_not_crashed(body: Any) -> None:
    _read_everything(RequestView.of(req("anthropic", body)))


def test_odd_parts_are_kept_as_other() -> None:
    body = {"messages": [{"role": "user", "content": [1, {"type": "text", "text": 9}, "s"]}]}
    view = RequestView.of(req("openai", body))
    assert [p.kind for p in view.messages[0].parts] == ["other", "other", "other"]
    assert view.messages[0].text == ""
    junk = RequestView.of(req("openai", {"messages": [42, {"role": "user", "content": "hi"}]}))
    assert junk.messages[0] == Turn("", (Part("other", raw=42),), 42, "openai")
    assert junk.messages[1].text == "hi"
    bad_args = {"role": "assistant", "tool_calls": [{"function": {"arguments": "{bad"}}]}
    (call,) = RequestView.of(req("openai", {"messages": [bad_args]})).messages[0].parts
    assert (call.kind, call.input) == ("tool_call", "{bad")


def test_odd_bodies_have_distinct_keys() -> None:
    keys = {key("openai", b) for b in ODD_OPENAI} | {key("anthropic", b) for b in ODD_ANTHROPIC}
    assert len(keys) == len(ODD_OPENAI) + len(ODD_ANTHROPIC)


# -- the cache key --------------------------------------------------------------------------------


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


@pytest.mark.parametrize(
    ("dialect", "make"), [("openai", openai_body), ("anthropic", anthropic_body)]
)
def test_key_ignores_key_order_and_delivery_fields(dialect: Dialect, make: Any) -> None:
    base = key(dialect, make())
    assert base == key(dialect, make())
    assert base == key(dialect, _reordered(make()))
    assert base == key(dialect, {**make(), "stream": True}, stream=True)
    assert base == key(dialect, {**make(), "metadata": {"user_id": "u1"}, "user": "bob"})
    assert base == key(dialect, {**make(), "stream_options": {"include_usage": True}})
    assert base == key(dialect, {**make(), "top_p": None})  # null is the default
    assert base == key(dialect, make(), task="other", tenant="t", endpoint="/v1/x")


@pytest.mark.parametrize(
    ("dialect", "make"), [("openai", openai_body), ("anthropic", anthropic_body)]
)
def test_key_sees_every_change_of_meaning(dialect: Dialect, make: Any) -> None:
    base = key(dialect, make())

    def changed(edit: Any, **kw: Any) -> str:
        body = make()
        edit(body)
        return key(dialect, body, **kw)

    def set_(field: str, value: Any) -> Any:
        return lambda b: b.__setitem__(field, value)

    variants = {
        "temperature": changed(set_("temperature", 0.3)),
        "max tokens": changed(set_("max_tokens", 301)),
        "message": changed(lambda b: b["messages"][0].__setitem__("content", "Weather in Rome?")),
        "tool description": changed(
            lambda b: (
                b["tools"][0].update(description="x")
                if dialect == "anthropic"
                else b["tools"][0]["function"].update(description="x")
            )
        ),
        "tool dropped": changed(lambda b: b["tools"].pop()),
        "stop": changed(set_("stop" if dialect == "openai" else "stop_sequences", ["STOP"])),
        "seed": changed(set_("seed", 8)),
        "unknown parameter": changed(set_("some_new_knob", 1)),
        "model": key(dialect, make(), model="cheaper-model"),
        "beta header": key(dialect, make(), upstream_headers=(("anthropic-beta", "x"),)),
        "system": changed(
            lambda b: (
                b["messages"].__setitem__(0, {"role": "system", "content": "Be kind."})
                if dialect == "openai"
                else b.__setitem__("system", "Be kind.")
            )
        ),
        "message order": changed(lambda b: b["messages"].reverse()),
        "response format": changed(
            set_("response_format" if dialect == "openai" else "output_format", {"type": "x"})
        ),
        "dialect": key("anthropic" if dialect == "openai" else "openai", make()),
    }
    assert base not in variants.values()
    assert len(set(variants.values())) == len(variants)


def test_key_uses_the_model_actually_called_not_the_body() -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    assert key("openai", body, model="gpt-4o-mini") == key(
        "openai", {**body, "model": "gpt-4o-mini"}, model="gpt-4o-mini"
    )
    assert key("openai", body, model="gpt-4o-mini") != key("openai", body)


def test_key_shares_equivalent_spellings_openai() -> None:
    def body(**over: Any) -> dict[str, Any]:
        return {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **over}

    plain = key("openai", body())
    parts = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert key("openai", body(messages=parts)) == plain
    assert key("openai", body(n=1)) == plain
    assert key("openai", body(response_format={"type": "text"})) == plain
    assert key("openai", body(stop=[])) == plain
    assert key("openai", body(stop="x")) == key("openai", body(stop=["x"]))
    assert key("openai", body(max_tokens=10)) == key("openai", body(max_completion_tokens=10))
    assert key("openai", body(temperature=1)) == key("openai", body(temperature=1.0))
    assert key("openai", body(n=2)) != plain
    assert key("openai", body(temperature=1)) != key("openai", body(temperature=1.1))
    # A developer message is not silently the same as a system message.
    sys_ = [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}]
    dev = [{"role": "developer", "content": "S"}, {"role": "user", "content": "hi"}]
    assert key("openai", body(messages=sys_)) != key("openai", body(messages=dev))
    # A participant name is part of the message.
    named = [{"role": "user", "content": "hi", "name": "ann"}]
    assert key("openai", body(messages=named)) != plain


def test_key_shares_equivalent_spellings_anthropic() -> None:
    def body(**over: Any) -> dict[str, Any]:
        base = {"model": "c", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}
        return {**base, **over}

    plain = key("anthropic", body(system="S"))
    assert key("anthropic", body(system=[{"type": "text", "text": "S"}])) == plain
    cached = [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}]
    assert key("anthropic", body(system=cached)) == plain  # caching never changes the answer
    blocks = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert key("anthropic", body(system="S", messages=blocks)) == plain
    assert key("anthropic", body(system="S", stop_sequences=[])) == plain
    assert key("anthropic", body(system="S", cache_control={"type": "ephemeral"})) == plain
    cited = [{"role": "user", "content": [{"type": "text", "text": "hi", "citations": [1]}]}]
    assert key("anthropic", body(system="S", messages=cited)) != plain
    odd = [{"role": "user", "content": "hi", "name": "ann"}]
    assert key("anthropic", body(system="S", messages=odd)) != plain


def _tool_conversation(first: str, second: str, args: str) -> dict[str, Any]:
    def call(id: str, city: str) -> dict[str, Any]:
        fn = {"name": "get_weather", "arguments": args.replace("CITY", city)}
        return {"id": id, "type": "function", "function": fn}

    return {
        "messages": [
            {"role": "user", "content": "Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [call(first, "P"), call(second, "R")],
            },
            {"role": "tool", "tool_call_id": first, "content": "18C"},
            {"role": "tool", "tool_call_id": second, "content": "25C"},
        ]
    }


def test_key_tool_call_ids_only_pair_calls_with_results() -> None:
    base = key("openai", _tool_conversation("call_a", "call_b", '{"city": "CITY"}'))
    # Fresh random ids, same pairing; argument JSON spelled differently.
    assert key("openai", _tool_conversation("call_x", "call_y", '{"city":"CITY"}')) == base
    # The same ids, paired the other way round: 18C is now Rome's weather.
    swapped = _tool_conversation("call_a", "call_b", '{"city": "CITY"}')
    swapped["messages"][2]["tool_call_id"] = "call_b"
    swapped["messages"][3]["tool_call_id"] = "call_a"
    assert key("openai", swapped) != base


def test_key_is_pinned() -> None:
    # Keys outlive the process (a persistent cache): a change here must bump
    # CACHE_KEY_VERSION, so old entries are never read back under a new meaning.
    openai = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.5,
    }
    assert key("openai", openai) == (
        "3df30f37cf19a1e63a7443aa86333178a14b792347bd76aacae143b9229dd1f7"
    )
    anthropic = {
        "model": "claude-x",
        "max_tokens": 10,
        "system": "S",
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert key("anthropic", anthropic) == (
        "43157493f4024dae3e8e9b9b138a6fad8b84f32b9c04f1fce82d2ecaaaeed45f"
    )


def test_key_is_cached_on_the_view() -> None:
    view = RequestView.of(req("openai", openai_body()))
    assert view.cache_key() is view.cache_key()
    assert view.canonical()["model"] == "gpt-4o"


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


# -- zero copy ------------------------------------------------------------------------------------


class NoCopyDict(dict[str, Any]):
    """A body that fails the test if anything copies it through the copy protocols."""

    def copy(self) -> Any:
        raise AssertionError("body copied")

    def __copy__(self) -> Any:
        raise AssertionError("body copied")

    def __deepcopy__(self, memo: Any) -> Any:
        raise AssertionError("body deep-copied")


@pytest.mark.parametrize(
    ("dialect", "make"), [("openai", openai_body), ("anthropic", anthropic_body)]
)
def test_view_and_key_never_copy_the_body(dialect: Dialect, make: Any) -> None:
    body = NoCopyDict(make())
    snapshot = make()
    request = req(dialect, body)
    view = RequestView.of(request)
    assert view.request is request
    assert view.body is body
    _read_everything(view)
    assert view.request is request and request.body is body
    assert dict(body) == snapshot  # nothing was mutated
    # What the view hands out is the body's own objects, not copies.
    first = body["messages"][2 if dialect == "openai" else 0]
    turn = view.messages[0]
    assert turn.raw is first
    assert turn.parts[0].text is first["content"]
    assert view.tools[0].raw is body["tools"][0]
    # Pass-through: no edit, no new request.
    assert view.with_messages(view.messages) is request
    assert view.with_max_output_tokens(view.max_output_tokens or 1) is request
