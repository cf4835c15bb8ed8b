"""Deep and odd schemas: ``thrifty lint`` says a file nested past what Python's JSON reader
takes cannot be read (exit 2, no traceback); ``lint_schema`` walks any depth, reads a
mapping that contains itself once per path, and finds what the recursive walk found, in
the same order.  A finding on the whole schema (JSON pointer "") reads "(top level)"."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.cli import main
from thrifty.lint import lint_schema
from thrifty.lint.schema import _escape, _nodes


def nested(depth: int) -> str:
    return '{"properties":{"a":' * depth + '{"type":"array"}' + "}}" * depth


def test_a_file_nested_too_deeply_exits_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.json"
    path.write_text(nested(5_000))
    assert main(["lint", str(path)]) == 2
    err = capsys.readouterr().err
    assert "nested too deeply to read" in err and "Traceback" not in err


def test_any_depth_is_walked() -> None:
    schema: dict[str, Any] = {"type": "array"}
    for _ in range(5_000):
        schema = {"properties": {"a": schema}}
    (finding,) = lint_schema(schema)
    assert finding.code == "OUT003" and finding.path == "/properties/a" * 5_000


def test_a_schema_that_contains_itself_is_read_once_per_path() -> None:
    schema: dict[str, Any] = {"type": "array", "properties": {}}
    schema["properties"]["again"] = schema
    schema["items"] = {"anyOf": [schema]}
    assert [(f.code, f.path) for f in lint_schema(schema)] == [("OUT003", "")]


def recursive_nodes(
    node: Any, path: str, name: str = ""
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """The walk as it was written first (recursive), to compare with."""
    if not isinstance(node, Mapping):
        return
    yield path, name, node
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        for key, child in properties.items():
            yield from recursive_nodes(child, f"{path}/properties/{_escape(str(key))}", str(key))
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), Mapping):
            yield from recursive_nodes(node[key], f"{path}/{key}", name)
    for key in ("prefixItems", "anyOf", "oneOf", "allOf"):
        children = node.get(key)
        if isinstance(children, list):
            for index, child in enumerate(children):
                yield from recursive_nodes(child, f"{path}/{key}/{index}", name)
    for key in ("$defs", "definitions"):
        defs = node.get(key)
        if isinstance(defs, Mapping):
            for def_name, child in defs.items():
                yield from recursive_nodes(
                    child, f"{path}/{key}/{_escape(str(def_name))}", str(def_name)
                )


NAMES = st.sampled_from(["reasoning", "confidence", "status", "a/b", "x~y", "n", "items"])
LEAF = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["string", "array", "integer", ["string", "null"]]),
        "description": st.sampled_from(["Explain in detail why. " * 3, "short", "x" * 50]),
        "enum": st.lists(st.sampled_from(["a", "b" * 40]), max_size=2),
        "maxLength": st.just(10),
    },
)
SCHEMAS = st.recursive(
    LEAF,
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["object", "array", "string"]),
            "properties": st.dictionaries(NAMES, inner, max_size=3),
            "items": st.one_of(inner, st.integers()),
            "additionalProperties": st.one_of(inner, st.booleans()),
            "not": inner,
            "anyOf": st.lists(st.one_of(inner, st.none()), max_size=2),
            "prefixItems": st.lists(inner, max_size=2),
            "$defs": st.dictionaries(NAMES, inner, max_size=2),
            "definitions": st.dictionaries(NAMES, inner, max_size=2),
        },
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(SCHEMAS)
def test_the_walk_is_the_recursive_walk(schema: dict[str, Any]) -> None:
    walked = [(path, name, id(node)) for path, name, node in _nodes(schema, "")]
    expected = [(path, name, id(node)) for path, name, node in recursive_nodes(schema, "")]
    assert walked == expected


def test_a_finding_on_the_whole_schema_says_top_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "list.json"
    path.write_text('{"type": "array"}')
    assert main(["lint", str(path)]) == 1
    assert capsys.readouterr().out.startswith(f"{path}:(top level): OUT003 ")
    (finding,) = lint_schema({"type": "array"})
    assert finding.path == "" and finding.text().startswith("(top level): OUT003 ")
