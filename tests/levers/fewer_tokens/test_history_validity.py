"""No history policy turns a valid conversation into an invalid one: random conversations
(text, content blocks, images, tool calls with their results, several calls at once) in
both dialects, trimmed by each policy, then checked by the simulator's validators (every
tool result answers a call of the turn before it, every call is answered) and by what a
trimmed conversation must also keep: Anthropic starts with a user turn, OpenAI system
messages stay first.  What is kept is the app's own newest messages, in order (a summary
note aside)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.levers.fewer_tokens.test_history_stage import HundredPerMessage, validate
from thrifty.config import HistorySettings
from thrifty.levers.fewer_tokens.history.stage import history_stage
from thrifty.testing import FakeUpstream, reply
from thrifty.types import ChatRequest, Dialect, Usage

IMAGE_URL = "https://example.com/cat.png"


def openai_turn(kind: str, n: int) -> list[dict[str, Any]]:
    if kind == "text":
        return [
            {"role": "user", "content": f"question {n}"},
            {"role": "assistant", "content": "ok"},
        ]
    if kind == "blocks":
        user = [
            {"type": "text", "text": f"look {n}"},
            {"type": "image_url", "image_url": {"url": IMAGE_URL}},
        ]
        return [{"role": "user", "content": user}, {"role": "assistant", "content": "a cat"}]
    calls = [
        {"id": f"c{n}_{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for i in range(2 if kind == "two_calls" else 1)
    ]
    return [
        {"role": "user", "content": f"use a tool {n}"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        *({"role": "tool", "tool_call_id": c["id"], "content": "42"} for c in calls),
        {"role": "assistant", "content": "it is 42"},
    ]


def anthropic_turn(kind: str, n: int) -> list[dict[str, Any]]:
    if kind == "text":
        return [
            {"role": "user", "content": f"question {n}"},
            {"role": "assistant", "content": "ok"},
        ]
    if kind == "blocks":
        image = {"type": "image", "source": {"type": "url", "url": IMAGE_URL}}
        user = [{"type": "text", "text": f"look {n}"}, image]
        return [
            {"role": "user", "content": user},
            {"role": "assistant", "content": [{"type": "text", "text": "a cat"}]},
        ]
    ids = [f"t{n}_{i}" for i in range(2 if kind == "two_calls" else 1)]
    uses = [{"type": "tool_use", "id": i, "name": "f", "input": {}} for i in ids]
    results = [{"type": "tool_result", "tool_use_id": i, "content": "42"} for i in ids]
    return [
        {"role": "user", "content": f"use a tool {n}"},
        {"role": "assistant", "content": uses},
        {"role": "user", "content": results},  # a user turn that carries results: no cut here
        {"role": "assistant", "content": "it is 42"},
    ]


def body_of(dialect: Dialect, kinds: list[str]) -> dict[str, Any]:
    make = openai_turn if dialect == "openai" else anthropic_turn
    messages = [m for n, kind in enumerate(kinds) for m in make(kind, n)]
    messages.append({"role": "user", "content": "and now?"})
    model = "gpt-4o" if dialect == "openai" else "claude-sonnet-4-6"
    body: dict[str, Any] = {"model": model, "max_tokens": 50}
    if dialect == "openai":
        body["messages"] = [{"role": "system", "content": "Be brief."}, *messages]
    else:
        body |= {"system": "Be brief.", "messages": messages}
    return body


def conversation_of(dialect: Dialect, body: dict[str, Any]) -> list[dict[str, Any]]:
    if dialect == "openai":
        return [m for m in body["messages"] if m["role"] != "system"]
    return list(body["messages"])


POLICIES = st.one_of(
    st.builds(
        lambda n, step: HistorySettings(
            enabled=True, policy="last_n", max_turns=n, step_turns=step
        ),
        st.integers(1, 12),
        st.integers(1, 6),
    ),
    st.builds(
        lambda budget, low: HistorySettings(enabled=True, budget_tokens=budget, low_water=low),
        st.integers(150, 2_500),
        st.sampled_from([0.3, 0.5, 0.8]),
    ),
    st.builds(
        lambda budget: HistorySettings(
            enabled=True, policy="summary", budget_tokens=budget, summary_model="gpt-4o-mini"
        ),
        st.integers(150, 2_500),
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["openai", "anthropic"]),
    st.lists(st.sampled_from(["text", "blocks", "tool", "two_calls"]), min_size=1, max_size=12),
    POLICIES,
)
async def test_every_policy_keeps_a_valid_conversation_valid(
    dialect: Dialect, kinds: list[str], policy: HistorySettings
) -> None:
    body = body_of(dialect, kinds)
    model = body["model"]
    request = ChatRequest(dialect=dialect, body=body, model=model, requested_model=model)
    validate(request)  # the app's request is valid
    summariser = FakeUpstream(
        lambda r: reply(r, "they talked", Usage(input_tokens=9, output_tokens=3))
    )
    upstream = FakeUpstream()
    await history_stage({None: policy}, summariser, HundredPerMessage())(upstream)(request)
    (sent,) = upstream.requests
    validate(sent)
    kept = conversation_of(dialect, sent.body)
    original = conversation_of(dialect, body)
    event("trimmed" if len(kept) < len(original) else "kept whole")
    assert kept and kept[0]["role"] == "user"
    assert kept == original[len(original) - len(kept) :]  # the newest, as the app sent them
    assert all(a is b for a, b in zip(kept, original[len(original) - len(kept) :], strict=True))
    if dialect == "openai":
        roles = [m["role"] for m in sent.body["messages"]]
        systems = roles.count("system")
        assert roles[:systems] == ["system"] * systems  # system messages first, notes too
