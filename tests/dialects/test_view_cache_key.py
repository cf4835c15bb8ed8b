"""RequestView: the cache key."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dialects.view_bodies import anthropic_body, key, openai_body, req
from thrifty.dialects.view import (
    RequestView,
)
from thrifty.types import Dialect

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
