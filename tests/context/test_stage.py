"""The context stage: the field is stripped, the kept documents go first in the last user
message (both dialects, checked by the simulator's validators), the left-out tokens are
booked, and a malformed field is a 400."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from thrifty.config import ContextSettings
from thrifty.context.stage import FIELD, ContextStage
from thrifty.errors import BadRequest
from thrifty.sim.anthropic_wire import AnthropicDialect
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.testing import FakeUpstream, request_for
from thrifty.tokens import TokenCounter
from thrifty.types import ChatRequest, Dialect

COUNTER = TokenCounter()
LONG = " ".join(f"w{i % 50}" for i in range(700))  # ~1,400 tokens


def documents() -> list[Any]:
    return [
        {"id": "refund", "text": "Refunds are paid within 30 days. " + LONG},
        {"id": "jobs", "text": "We are hiring engineers. " + LONG.replace("w", "v")},
        "Shipping takes five days. " + LONG.replace("w", "x"),
    ]


def asking(dialect: Dialect, field: Any, content: Any = "How long do refunds take?") -> ChatRequest:
    request = request_for("gpt-4o", dialect=dialect)
    messages = [{"role": "user", "content": content}]
    return dataclasses.replace(request, body={**request.body, "messages": messages, FIELD: field})


def stage(**settings: Any) -> ContextStage:
    return ContextStage({None: ContextSettings(**settings)}, COUNTER)


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_the_best_documents_go_first_in_the_last_user_message(dialect: Dialect) -> None:
    upstream = FakeUpstream()
    request = asking(dialect, {"documents": documents(), "budget_tokens": 1600})
    response = await stage()(upstream)(request)
    (sent,) = upstream.requests
    assert FIELD not in sent.body
    (AnthropicDialect() if dialect == "anthropic" else OpenAIDialect()).prepare(sent.body)
    content = sent.body["messages"][-1]["content"]
    assert content.startswith('<documents>\n<document id="refund">\nRefunds are paid')
    assert content.endswith("</documents>\n\nHow long do refunds take?")
    assert "hiring" not in content and "Shipping" not in content
    assert response.headers["context"].startswith("kept 1 of 3 documents")
    (step,) = response.steps
    left_out = sum(
        COUNTER.count_text("gpt-4o", d).tokens for d in [documents()[1]["text"], documents()[2]]
    )
    assert step.tokens is not None and step.tokens.input_tokens == -left_out


async def test_a_list_content_gets_a_text_part_first_and_small_sets_are_kept() -> None:
    upstream = FakeUpstream()
    parts = [{"type": "text", "text": "refunds?"}]
    request = asking("openai", {"documents": ["a short note", "another"]}, parts)
    response = await stage()(upstream)(request)
    content = upstream.requests[0].body["messages"][-1]["content"]
    assert content[0]["text"].startswith("<documents>\n<document>\na short note")
    assert content[1:] == parts
    assert response.headers["context"] == "kept all 2 of 2 documents (under min_tokens)"
    assert response.steps == []


async def test_nothing_kept_sends_the_message_alone() -> None:
    upstream = FakeUpstream()
    field = {"documents": [{"text": "x", "metadata": {"lang": "fr"}}], "where": {"lang": "en"}}
    await stage()(upstream)(asking("openai", field))
    assert upstream.requests[0].body["messages"][-1]["content"] == "How long do refunds take?"


async def test_requests_without_the_field_pass_untouched() -> None:
    upstream = FakeUpstream()
    request = request_for("gpt-4o")
    response = await stage()(upstream)(request)
    assert upstream.requests == [request] and response.headers == {}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ([], "thrifty_context must be an object"),
        ({"documents": [], "extra": 1}, "unknown keys"),
        ({"documents": "x"}, "documents must be a list"),
        ({"documents": [{"text": 1}]}, "documents: document 0"),
        ({"documents": [], "query": 3}, "query must be a string"),
        ({"documents": [], "budget_tokens": 0}, "budget_tokens must be a positive integer"),
        ({"documents": [], "budget_tokens": True}, "budget_tokens must be a positive integer"),
        ({"documents": [], "where": []}, "where must be an object"),
        ({"documents": ["a", "b", "c"]}, "at most 2 documents"),
    ],
)
async def test_a_malformed_field_is_a_bad_request(field: Any, message: str) -> None:
    upstream = FakeUpstream()
    with pytest.raises(BadRequest, match=message):
        await stage(max_documents=2)(upstream)(asking("openai", field))
    assert upstream.requests == []


async def test_the_last_message_must_be_the_users() -> None:
    request = asking("openai", {"documents": []})
    body = {**request.body, "messages": [{"role": "assistant", "content": "hi"}]}
    with pytest.raises(BadRequest, match="last message to be a user message"):
        await stage()(FakeUpstream())(dataclasses.replace(request, body=body))


async def test_off_for_a_task_the_field_is_refused() -> None:
    handler = ContextStage({None: None}, COUNTER)(FakeUpstream())
    with pytest.raises(BadRequest, match="context selection is off"):
        await handler(asking("openai", {"documents": []}))
