"""The local tier's strict JSON checks: what a request asks for, and which answers pass."""

from __future__ import annotations

from typing import Any

import pytest

from thrifty.levers.cheaper.local.json_check import (
    MAX_DETAIL,
    AnswerCheck,
    BadSchema,
    JsonChecks,
    requested_schema,
)
from thrifty.testing import reply, request_for
from thrifty.types import JSON, ChatRequest, Dialect

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def openai_schema(schema: JSON) -> JSON:
    return {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}


def check(request: ChatRequest) -> AnswerCheck:
    found = JsonChecks().check_for(request)
    assert found is not None
    return found


def body_with(text: str | None, dialect: Dialect = "openai", **message: Any) -> JSON:
    request = request_for("m", dialect=dialect)
    body = reply(request, text or "").body
    assert body is not None
    if dialect == "openai":
        body["choices"][0]["message"].update(content=text, **message)
    return body


def test_requests_that_ask_for_no_json_get_no_check() -> None:
    checks = JsonChecks()
    assert checks.check_for(request_for("m")) is None
    assert checks.check_for(request_for("m", response_format={"type": "text"})) is None
    assert checks.check_for(request_for("m", response_format="json")) is None
    anthropic = request_for("m", dialect="anthropic", output_format={"type": "text"})
    assert checks.check_for(anthropic) is None


def test_where_each_dialect_names_its_schema() -> None:
    assert requested_schema(request_for("m", response_format={"type": "json_object"})) == (
        True,
        None,
    )
    assert requested_schema(request_for("m", response_format=openai_schema(PERSON))) == (
        True,
        PERSON,
    )
    fmt = {"type": "json_schema", "schema": PERSON}
    assert requested_schema(request_for("m", dialect="anthropic", output_format=fmt)) == (
        True,
        PERSON,
    )
    config = {"format": fmt}
    assert requested_schema(request_for("m", dialect="anthropic", output_config=config)) == (
        True,
        PERSON,
    )
    no_schema = {"type": "json_schema", "json_schema": {"name": "x"}}
    assert requested_schema(request_for("m", response_format=no_schema)) == (True, None)


@pytest.mark.parametrize(
    "schema", [{"type": 12}, {"properties": {"a": {"minimum": "zero"}}}, "not an object"]
)
def test_an_invalid_schema_is_refused_before_any_answer(schema: Any) -> None:
    with pytest.raises(BadSchema, match="schema"):
        JsonChecks().check_for(request_for("m", response_format=openai_schema(schema)))


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ('{"a": 1}', True),
        (' \n{"a": [1, 2, {"b": null}]}\n', True),
        ("[1, 2]", False),  # JSON, but json_object mode means an object
        ('"text"', False),
        ('```json\n{"a": 1}\n```', False),  # strict: no Markdown fence
        ('Here it is: {"a": 1}', False),
        ('{"a": 1} trailing', False),
        ('{"a": NaN}', False),
        ('{"a": 1', False),  # cut short
        ("", False),
    ],
)
def test_json_object_mode_wants_exactly_one_object(text: str, accepted: bool) -> None:
    verdict = check(request_for("m", response_format={"type": "json_object"})).verdict(
        body_with(text), "openai"
    )
    assert verdict.accepted is accepted
    if not accepted:
        assert verdict.refusal == "invalid-json" and verdict.detail


def test_schema_mismatch_says_where() -> None:
    request_check = check(request_for("m", response_format=openai_schema(PERSON)))
    ok = request_check.verdict(body_with('{"name": "Ada", "age": 36}'), "openai")
    assert ok.accepted
    wrong_type = request_check.verdict(body_with('{"name": "Ada", "age": "36"}'), "openai")
    assert wrong_type.refusal == "schema-mismatch"
    assert wrong_type.detail.startswith("age:")
    missing = request_check.verdict(body_with('{"name": "Ada"}'), "openai")
    assert missing.refusal == "schema-mismatch" and "age" in missing.detail
    extra = request_check.verdict(body_with('{"name": "A", "age": 1, "x": 0}'), "openai")
    assert extra.refusal == "schema-mismatch"
    not_json = request_check.verdict(body_with("Ada, 36"), "openai")
    assert not_json.refusal == "invalid-json"


def test_a_schema_may_want_a_root_that_is_not_an_object() -> None:
    request_check = check(request_for("m", response_format=openai_schema({"type": "array"})))
    assert request_check.verdict(body_with("[1]"), "openai").accepted
    assert request_check.verdict(body_with('{"a": 1}'), "openai").refusal == "schema-mismatch"


def test_formats_are_checked() -> None:
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date"}}}
    request_check = check(request_for("m", response_format=openai_schema(schema)))
    assert request_check.verdict(body_with('{"at": "2025-01-31"}'), "openai").accepted
    assert not request_check.verdict(body_with('{"at": "last tuesday"}'), "openai").accepted


def test_the_detail_is_bounded() -> None:
    schema = {"type": "object", "properties": {"a": {"enum": ["x" * 500]}}}
    request_check = check(request_for("m", response_format=openai_schema(schema)))
    verdict = request_check.verdict(body_with('{"a": "y"}'), "openai")
    assert verdict.refusal == "schema-mismatch"
    assert len(verdict.detail) == MAX_DETAIL and verdict.detail.endswith("...")


def test_every_choice_is_checked() -> None:
    body = body_with('{"a": 1}')
    second = {
        "index": 1,
        "message": {"role": "assistant", "content": "no"},
        "finish_reason": "stop",
    }
    body["choices"].append(second)
    verdict = check(request_for("m", response_format={"type": "json_object"})).verdict(
        body, "openai"
    )
    assert verdict.refusal == "invalid-json"


def test_tool_calls_need_object_arguments() -> None:
    request_check = check(request_for("m", response_format={"type": "json_object"}))

    def calling(arguments: str) -> JSON:
        call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
        return body_with(None, tool_calls=[call])

    assert request_check.verdict(calling('{"q": 1}'), "openai").accepted
    bad = request_check.verdict(calling("{q: 1}"), "openai")
    assert bad.refusal == "invalid-json"
    assert request_check.verdict(calling("[1]"), "openai").detail.startswith("tool arguments")


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"choices": []},
        {"choices": [{"message": {"role": "assistant", "content": None}}]},
        {"choices": [{"no message": 1}]},
        {"unexpected": True},
    ],
)
def test_no_answer_is_not_json(body: JSON | None) -> None:
    verdict = check(request_for("m", response_format={"type": "json_object"})).verdict(
        body, "openai"
    )
    assert verdict.refusal == "invalid-json"


def test_anthropic_text_blocks_are_read_together() -> None:
    fmt = {"type": "json_schema", "schema": PERSON}
    request_check = check(request_for("m", dialect="anthropic", output_format=fmt))
    body = reply(request_for("m", dialect="anthropic"), "x").body
    assert body is not None
    body["content"] = [
        {"type": "text", "text": '{"name": "Ada", '},
        {"type": "text", "text": '"age": 36}'},
    ]
    assert request_check.verdict(body, "anthropic").accepted
    body["content"] = [{"type": "text", "text": '{"name": "Ada"}'}]
    assert request_check.verdict(body, "anthropic").refusal == "schema-mismatch"
    body["content"] = [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]
    assert request_check.verdict(body, "anthropic").accepted
    body["content"] = []
    assert request_check.verdict(body, "anthropic").refusal == "invalid-json"


def test_compiled_schemas_are_bounded_and_reused() -> None:
    checks = JsonChecks(max_schemas=2)
    schemas = [{"type": "object", "title": str(i)} for i in range(3)]
    for schema in schemas:
        checks.check_for(request_for("m", response_format=openai_schema(schema)))
    assert len(checks._compiled) == 2
    first = checks._validator(schemas[2])
    assert checks._validator(dict(reversed(list(schemas[2].items())))) is first  # key order
