"""``lint_schema``: each rule fires where it should, with its path, and not elsewhere."""

from __future__ import annotations

from typing import Any

import pytest

import thrifty
from thrifty.lint import CODES, lint_schema

DESCRIPTION = "The category of the support ticket the customer opened."
TRIAGE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "description": DESCRIPTION},
        "confidence": {"type": "string"},
        "reasoning": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "string", "description": "Explain in detail what happened."},
        "action": {"type": "string", "enum": ["Refund the customer in full and close it", "x"]},
        "ticket": {
            "type": "object",
            "properties": {"kind": {"type": "string", "description": DESCRIPTION}},
        },
    },
}


def codes(findings: list[Any]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in findings]


def test_every_rule_fires_with_its_path() -> None:
    assert codes(lint_schema(TRIAGE)) == [
        ("OUT007", "/properties/action"),
        ("OUT004", "/properties/category"),
        ("OUT001", "/properties/confidence"),
        ("OUT002", "/properties/reasoning"),
        ("OUT005", "/properties/summary"),
        ("OUT003", "/properties/tags"),
        ("OUT004", "/properties/ticket/properties/kind"),
        ("OUT006", "/properties/ticket/properties/kind"),
    ]
    assert {code for code, _ in codes(lint_schema(TRIAGE))} <= set(CODES)


def test_each_finding_says_why_and_how_to_fix_it() -> None:
    for finding in lint_schema(TRIAGE, source="triage.json"):
        assert finding.why and finding.fix and finding.source == "triage.json"
        assert finding.to_json()["code"] == finding.code
        assert finding.text().startswith(f"triage.json:{finding.path}: {finding.code} ")
    (confidence,) = [f for f in lint_schema(TRIAGE) if f.code == "OUT001"]
    assert '"enum": ["low", "medium", "high"]' in confidence.fix


BOUNDED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": ["billing", "bug"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reasoning": {"type": "string", "maxLength": 200},
        "tags": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 20}},
        "name": {"type": "string"},
        "status": {"type": "string", "pattern": "^(open|closed)$"},
    },
}


def test_a_bounded_schema_has_no_findings() -> None:
    assert lint_schema(BOUNDED) == []


@pytest.mark.parametrize(
    ("document", "prefix"),
    [
        (
            {"type": "json_schema", "json_schema": {"name": "t", "schema": TRIAGE}},
            "/json_schema/schema",
        ),
        (
            {"type": "function", "function": {"name": "t", "parameters": TRIAGE}},
            "/function/parameters",
        ),
        ({"name": "t", "input_schema": TRIAGE}, "/input_schema"),
        (
            [{"name": "ok", "input_schema": BOUNDED}, {"name": "t", "input_schema": TRIAGE}],
            "/1/input_schema",
        ),
    ],
)
def test_response_formats_and_tools_are_linted_where_their_schema_is(
    document: Any, prefix: str
) -> None:
    found = lint_schema(document)
    assert [f.path for f in found] == [prefix + p for _, p in codes(lint_schema(TRIAGE))]


def test_nested_schemas_are_reached() -> None:
    schema = {
        "$defs": {"Item": {"type": "object", "properties": {"notes": {"type": "string"}}}},
        "type": "object",
        "properties": {
            "items": {"type": "array", "maxItems": 5, "items": {"$ref": "#/$defs/Item"}},
            "choice": {"anyOf": [{"type": "string"}, {"type": "array", "items": {}}]},
        },
    }
    assert codes(lint_schema(schema)) == [
        ("OUT002", "/$defs/Item/properties/notes"),
        ("OUT003", "/properties/choice/anyOf/1"),
    ]


def test_odd_documents_do_not_raise() -> None:
    for odd in (None, 3, "text", [], {}, {"properties": []}, {"type": ["string", "null"]}):
        assert lint_schema(odd) == []
    assert codes(lint_schema({"properties": {"a/b~": {"type": "array"}}})) == [
        ("OUT003", "/properties/a~1b~0")
    ]


def test_the_library_call_is_on_the_package() -> None:
    assert thrifty.lint_schema(TRIAGE) == lint_schema(TRIAGE)
