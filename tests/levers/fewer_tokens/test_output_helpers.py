"""Structured-output helpers: enums for known value sets, IDs and a legend for long
values and repeated descriptions.  Each fixes what the lint flags."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from thrifty.lint import lint_schema
from thrifty.output import Legend, enum_field, reference_ids

LONG = "The category of the support ticket the customer opened."
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "description": LONG, "maxLength": 500},
        "labels": {"type": "array", "maxItems": 3, "items": {"type": "string"}},
        "ticket": {
            "type": "object",
            "properties": {"kind": {"type": "string", "description": LONG}},
        },
        "action": {
            "type": "string",
            "enum": [
                "Refund the customer in full and close the ticket",
                "Escalate to the on-call engineer with the logs",
                "ask",
            ],
        },
    },
}


def test_enum_field_makes_a_free_text_field_an_enum() -> None:
    original = copy.deepcopy(SCHEMA)
    out = enum_field(SCHEMA, "category", ["billing", "bug", "other"])
    assert original == SCHEMA  # never modified
    assert out["properties"]["category"] == {
        "type": "string",
        "description": LONG,
        "enum": ["billing", "bug", "other"],
    }
    assert enum_field(SCHEMA, "labels", ["a", "b"])["properties"]["labels"]["items"] == {
        "type": "string",
        "enum": ["a", "b"],
    }
    nested = enum_field(SCHEMA, "ticket.kind", ["x", "y"])
    assert nested["properties"]["ticket"]["properties"]["kind"]["enum"] == ["x", "y"]
    flagged = {(f.code, f.path) for f in lint_schema(SCHEMA)}
    fixed = {(f.code, f.path) for f in lint_schema(nested)}
    assert ("OUT004", "/properties/ticket/properties/kind") in flagged - fixed


def test_enum_field_reaches_into_tools_and_response_formats() -> None:
    tool = {"type": "function", "function": {"name": "t", "parameters": SCHEMA}}
    out = enum_field(tool, "category", ["a"])
    assert out["function"]["parameters"]["properties"]["category"]["enum"] == ["a"]


@pytest.mark.parametrize(
    ("name", "values", "error"),
    [
        ("nope", ["a"], KeyError),
        ("ticket.nope", ["a"], KeyError),
        ("category.deeper", ["a"], KeyError),
        ("category", [], ValueError),
        ("category", ["a", "a"], ValueError),
    ],
)
def test_enum_field_refuses_what_it_cannot_do(name: str, values: list[str], error: type) -> None:
    with pytest.raises(error):
        enum_field(SCHEMA, name, values)


def test_reference_ids_replace_long_values_and_repeated_descriptions() -> None:
    out, legend = reference_ids(SCHEMA)
    assert out["properties"]["action"]["enum"] == ["R2", "R3", "ask"]
    assert out["properties"]["category"]["description"] == "See R1."
    assert out["properties"]["ticket"]["properties"]["kind"]["description"] == "See R1."
    assert legend.entries == {
        "R1": LONG,
        "R2": "Refund the customer in full and close the ticket",
        "R3": "Escalate to the on-call engineer with the logs",
    }
    assert legend.text().splitlines()[1] == f"R1: {LONG}"
    assert {f.code for f in lint_schema(out)} & {"OUT006", "OUT007"} == set()
    answer = {"action": "R3", "notes": ["R2", 4], "other": "ask"}
    assert legend.decode(answer) == {
        "action": "Escalate to the on-call engineer with the logs",
        "notes": ["Refund the customer in full and close the ticket", 4],
        "other": "ask",
    }
    assert answer["action"] == "R3"


def test_a_schema_with_nothing_long_gets_an_empty_legend() -> None:
    out, legend = reference_ids({"type": "string", "enum": ["a", "b"]})
    assert out == {"type": "string", "enum": ["a", "b"]} and legend == Legend()
