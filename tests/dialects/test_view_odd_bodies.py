"""RequestView: odd bodies are read, never crash, and are never copied."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dialects.view_bodies import anthropic_body, key, openai_body, req
from thrifty.dialects.view import (
    Part,
    RequestView,
    Turn,
)
from thrifty.types import Dialect

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
