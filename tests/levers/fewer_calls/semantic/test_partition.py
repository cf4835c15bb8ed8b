"""The partition key: everything but the last user message must match exactly."""

from __future__ import annotations

import dataclasses

from thrifty.levers.fewer_calls.semantic.partition import lookup_of
from thrifty.testing import request_for
from thrifty.types import ChatRequest


def chat(last: str = "What is the capital of France?", **kwargs: object) -> ChatRequest:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": last},
    ]
    request = request_for("gpt-4o", "x", **kwargs)  # type: ignore[arg-type]
    return dataclasses.replace(request, body={**request.body, "messages": messages})


def partition(request: ChatRequest) -> str:
    lookup = lookup_of(request)
    assert lookup is not None
    return lookup.partition


def test_only_the_last_user_message_is_left_out_of_the_partition() -> None:
    one, two = lookup_of(chat()), lookup_of(chat("Capital city of France?"))
    assert one is not None and two is not None
    assert one.partition == two.partition
    assert (one.query, two.query) == ("What is the capital of France?", "Capital city of France?")


def test_everything_else_splits_the_partition() -> None:
    base = partition(chat())
    edits = [
        lambda r: dataclasses.replace(r, tenant="acme"),
        lambda r: dataclasses.replace(r, task="support"),
        lambda r: dataclasses.replace(r, model="gpt-4o-mini"),
        lambda r: dataclasses.replace(r, body={**r.body, "temperature": 0.9}),
        lambda r: dataclasses.replace(
            r,
            body={
                **r.body,
                "messages": [{"role": "system", "content": "Be verbose."}, *r.body["messages"][1:]],
            },
        ),
        lambda r: dataclasses.replace(
            r,
            body={
                **r.body,
                "messages": [
                    r.body["messages"][0],
                    {"role": "user", "content": "Hello"},
                    *r.body["messages"][2:],
                ],
            },
        ),
    ]
    seen = {base}
    for edit in edits:
        seen.add(partition(edit(chat())))
    assert len(seen) == len(edits) + 1
    assert partition(dataclasses.replace(chat(), tenant="a")) != partition(
        dataclasses.replace(chat(), tenant="b")
    )


def test_what_cannot_be_looked_up() -> None:
    assert lookup_of(chat(n=2)) is None
    assert lookup_of(dataclasses.replace(chat(), api="responses")) is None
    assert lookup_of(chat("   ")) is None
    assert lookup_of(chat("x" * 5000)) is None
    image = [{"type": "image_url", "image_url": {"url": "data:,"}}, {"type": "text", "text": "hi"}]
    assert lookup_of(chat(image)) is None  # type: ignore[arg-type]
    ends_with_assistant = dataclasses.replace(
        chat(), body={**chat().body, "messages": chat().body["messages"][:3]}
    )
    assert lookup_of(ends_with_assistant) is None


def test_anthropic_requests_have_their_own_partitions() -> None:
    one = lookup_of(request_for("claude-haiku-4-5", "Capital of France?", dialect="anthropic"))
    two = lookup_of(request_for("claude-haiku-4-5", "France's capital?", dialect="anthropic"))
    openai = lookup_of(request_for("claude-haiku-4-5", "Capital of France?"))
    assert one is not None and two is not None and openai is not None
    assert one.partition == two.partition != openai.partition
