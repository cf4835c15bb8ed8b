"""The output lever and requests it should not touch: an app's stop field the provider
would refuse is sent as the app wrote it (not "fixed" into a valid one, not a crash), with
a warning header; a valid request stays valid in both dialects."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.output import (
    OPENAI_MAX_STOPS,
    UNREADABLE_STOP,
    WARNING_HEADER,
    OutputRule,
    output_stage,
)
from thrifty.sim.anthropic_wire import AnthropicDialect
from thrifty.sim.dialect import BadRequest
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.testing import FakeUpstream, request_for
from thrifty.types import ChatRequest, Dialect

RULE = OutputRule(max_output_tokens=50, stop_sequences=("\n\nEND", "###"))


@pytest.mark.parametrize(
    ("dialect", "model", "stop"),
    [
        ("openai", "gpt-4o", 5),
        ("openai", "gpt-4o", ["a", 1]),
        ("openai", "gpt-4o", {"a": "b"}),
        ("anthropic", "claude-sonnet-4-6", "END"),  # Anthropic takes a list only
        ("anthropic", "claude-sonnet-4-6", [None]),
    ],
)
async def test_a_stop_field_the_provider_refuses_is_sent_as_written(
    dialect: Dialect, model: str, stop: Any
) -> None:
    field = "stop" if dialect == "openai" else "stop_sequences"
    request = request_for(model, dialect=dialect, max_tokens=4000, **{field: stop})
    upstream = FakeUpstream()
    response = await output_stage({None: RULE})(upstream)(request)
    (sent,) = upstream.requests
    assert sent is request and sent.body[field] == stop and sent.body["max_tokens"] == 4000
    with pytest.raises(BadRequest):  # the provider's own 400 reaches the app
        validate(sent)
    assert response.headers[WARNING_HEADER] == UNREADABLE_STOP
    assert [s.detail for s in response.steps] == [UNREADABLE_STOP]


async def test_a_readable_stop_gets_no_warning() -> None:
    upstream = FakeUpstream()
    response = await output_stage({None: RULE})(upstream)(request_for("gpt-4o", stop="x"))
    assert upstream.requests[0].body["stop"] == ["x", "\n\nEND", "###"]
    assert WARNING_HEADER not in response.headers


def validate(request: ChatRequest) -> None:
    if request.dialect == "anthropic":
        AnthropicDialect().prepare(request.body)
    else:
        OpenAIDialect().prepare(request.body)


STOP = st.text(min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(
    dialect=st.sampled_from(["openai", "anthropic"]),
    own=st.one_of(st.none(), STOP, st.lists(STOP, max_size=OPENAI_MAX_STOPS)),
    asked=st.one_of(st.none(), st.integers(min_value=1, max_value=10_000)),
    cap=st.one_of(st.none(), st.integers(min_value=1, max_value=10_000)),
    added=st.lists(STOP, max_size=6),
)
async def test_a_valid_request_stays_valid(
    dialect: Dialect, own: Any, asked: int | None, cap: int | None, added: list[str]
) -> None:
    if dialect == "anthropic" and isinstance(own, str):
        own = [own]
    body: dict[str, Any] = {}
    if own is not None:
        body["stop" if dialect == "openai" else "stop_sequences"] = own
    if asked is not None or dialect == "anthropic":
        body["max_tokens"] = asked or 1024
    model = "gpt-4o" if dialect == "openai" else "claude-sonnet-4-6"
    request = request_for(model, dialect=dialect, **body)
    validate(request)
    upstream = FakeUpstream()
    rule = OutputRule(max_output_tokens=cap, stop_sequences=tuple(added))
    response = await output_stage({None: rule})(upstream)(request)
    (sent,) = upstream.requests
    validate(sent)
    assert WARNING_HEADER not in response.headers
