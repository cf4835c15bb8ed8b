"""No plan turns a valid request into an invalid one, nor changes what it says: random
conversations (text, images, thinking, tool calls answered in the next turn, empty
text, system as a string or blocks, tools), planned, then checked by the simulator's
validators of both dialects, by the API's rules the simulator does not check (no
``cache_control`` on thinking or empty text blocks, a 1h lifetime never after a 5m one),
and read back without the breakpoints to the same content."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.levers.fewer_tokens.prompt_cache_kit import COUNTER, long_text
from thrifty.config import PromptCacheSettings
from thrifty.levers.fewer_tokens.prompt_cache import PromptCachePlanner, prompt_cache_stage
from thrifty.sim.anthropic_wire import AnthropicDialect
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.testing import FakeUpstream
from thrifty.types import ChatRequest

BIG = long_text(1_200, seed=3)  # long enough to cache (~1.6k tokens)

text_block = st.builds(
    lambda t: {"type": "text", "text": t}, st.sampled_from(["", "short", BIG, "x y z"])
)
image = st.just(
    {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
)
thinking = st.just({"type": "thinking", "thinking": "hmm", "signature": "sig"})
tool_use = st.builds(
    lambda i: {"type": "tool_use", "id": f"t{i}", "name": "look", "input": {}}, st.integers(0, 3)
)
tool_result = st.builds(
    lambda i, t: {"type": "tool_result", "tool_use_id": f"t{i}", "content": t},
    st.integers(0, 3),
    st.sampled_from(["done", BIG]),
)
user_content = st.one_of(
    st.sampled_from(["hi", BIG]),
    st.lists(st.one_of(text_block, image, tool_result), min_size=1, max_size=3),
)
assistant_content = st.one_of(
    st.sampled_from(["ok", BIG]),
    st.lists(st.one_of(thinking, text_block, tool_use), min_size=1, max_size=3),
)


def answered(block: dict[str, Any], called: set[str]) -> dict[str, Any]:
    """``block``, or a text block for a tool result whose call was not made in the turn
    before (such a conversation is malformed: the planner passes it unchanged, see
    test_prompt_cache_malformed.py)."""
    if block["type"] == "tool_result" and block["tool_use_id"] not in called:
        return {"type": "text", "text": "done"}
    return block


@st.composite
def conversations(draw: st.DrawFn) -> dict[str, Any]:
    turns = draw(st.integers(1, 5))
    messages = []
    called: set[str] = set()
    for i in range(turns):
        role = "user" if i % 2 == 0 else "assistant"
        content = draw(user_content if role == "user" else assistant_content)
        if isinstance(content, list):  # a result answers a call of the turn before
            content = [answered(block, called) for block in content]
        if called:  # every call of the turn before is answered, by results that come first
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            given = {b["tool_use_id"] for b in content if b["type"] == "tool_result"}
            missing = sorted(called - given)
            content = [
                *({"type": "tool_result", "tool_use_id": c, "content": "done"} for c in missing),
                *sorted(content, key=lambda b: b["type"] != "tool_result"),
            ]
        called = (
            {b["id"] for b in content if b["type"] == "tool_use"}
            if role == "assistant" and isinstance(content, list)
            else set()
        )
        messages.append({"role": role, "content": content})
    body: dict[str, Any] = {"model": "claude-sonnet-4-6", "max_tokens": 32, "messages": messages}
    system = draw(st.sampled_from([None, "Be brief.", BIG, "blocks"]))
    if system == "blocks":
        body["system"] = [{"type": "text", "text": "Rules."}, {"type": "text", "text": BIG}]
    elif system is not None:
        body["system"] = system
    tools = draw(st.integers(0, 3))
    if tools:
        body["tools"] = [
            {
                "name": f"tool{i}",
                "description": BIG if i == 0 else "d",
                "input_schema": {"type": "object"},
            }
            for i in range(tools)
        ]
    return body


def _text(content: Any) -> Any:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [{k: v for k, v in b.items() if k != "cache_control"} for b in content]


def meaning(body: dict[str, Any]) -> Any:
    """The body with breakpoints removed and strings read as one text block."""
    system = body.get("system")
    return (
        [{k: v for k, v in t.items() if k != "cache_control"} for t in body.get("tools", [])],
        None if system is None else [b["text"] for b in _text(system)],
        [(m["role"], _text(m["content"])) for m in body["messages"]],
    )


def check_rules(body: dict[str, Any]) -> None:
    marks: list[str] = []
    for item in body.get("tools", []):
        if "cache_control" in item:
            marks.append(item["cache_control"].get("ttl", "5m"))
    system = body.get("system")
    for block in system if isinstance(system, list) else []:
        if "cache_control" in block:
            marks.append(block["cache_control"].get("ttl", "5m"))
    for message in body["messages"]:
        content = message["content"]
        for block in content if isinstance(content, list) else []:
            if "cache_control" in block:
                assert block["type"] not in ("thinking", "redacted_thinking")
                assert not (block["type"] == "text" and not block["text"])
                marks.append(block["cache_control"].get("ttl", "5m"))
    assert len(marks) <= 4
    assert marks == sorted(marks, key=lambda ttl: ttl != "1h")  # every 1h before every 5m


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversations(), st.booleans())
async def test_anthropic_plans_stay_valid_and_say_the_same(
    body: dict[str, Any], hourly: bool
) -> None:
    AnthropicDialect().prepare(body)  # the app's request is valid
    upstream = FakeUpstream()
    lever = PromptCacheSettings(enabled=True, first_sight=True, min_uses_for_1h=1)
    handler = prompt_cache_stage(PromptCachePlanner({None: lever}, COUNTER))(upstream)
    gap = 1_200.0 if hourly else 30.0
    for n in range(3):  # first sight, a reuse, a read: every kind of plan
        request = ChatRequest(
            dialect="anthropic",
            body=body,
            model=body["model"],
            requested_model=body["model"],
            received_at=n * gap,
        )
        await handler(request)
        sent = upstream.requests[-1].body
        AnthropicDialect().prepare(sent)  # still valid for the simulator
        check_rules(sent)
        assert meaning(sent) == meaning(body)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["Be brief.", BIG, f"Date: 2026-11-30\n{BIG}"]),
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=0, max_size=3, unique=True),
)
async def test_openai_plans_stay_valid(system: str, tool_names: list[str]) -> None:
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}],
    }
    if tool_names:
        body["tools"] = [
            {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
            for n in tool_names
        ]
    OpenAIDialect().prepare(body)
    upstream = FakeUpstream()
    lever = PromptCacheSettings(enabled=True)
    handler = prompt_cache_stage(PromptCachePlanner({None: lever}, COUNTER))(upstream)
    await handler(
        ChatRequest(dialect="openai", body=body, model="gpt-4o", requested_model="gpt-4o")
    )
    sent = upstream.requests[-1].body
    OpenAIDialect().prepare(sent)
    lines = sorted(sent["messages"][0]["content"].split("\n"))
    assert lines == sorted(system.split("\n"))  # moved, never changed
    assert sent.get("tools", []) == body.get("tools", [])
