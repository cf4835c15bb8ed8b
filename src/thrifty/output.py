"""Structured-output helpers: schemas that make short answers (docs/levers/fewer-tokens.md,
"Output control").

* :func:`enum_field` turns a free-text field with a known set of values into an enum, so
  the model writes ``"billing"`` instead of a sentence about billing.
* :func:`reference_ids` replaces long enum values and repeated descriptions with short IDs
  and returns a :class:`Legend`: its text goes in the prompt once, and
  :meth:`Legend.decode` turns IDs in an answer back into what they stand for.

Both return a new schema; the one passed in is never modified.  ``thrifty lint`` (and
:func:`thrifty.lint.lint_schema`) says where they apply.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from thrifty.lint.schema import MIN_LONG_ENUM, MIN_REPEATED, schema_of

__all__ = ["Legend", "enum_field", "reference_ids"]

JSONSchema = dict[str, Any]


def _properties_at(schema: Mapping[str, Any], dotted: str) -> tuple[dict[str, Any], str]:
    """The ``properties`` mapping holding the last name of ``dotted`` (``"a.b"``: property
    ``b`` of property ``a``; arrays are stepped through to their items)."""
    *parents, name = dotted.split(".")
    node: Any = schema
    for parent in parents:
        node = _holder(node, parent, dotted)[parent]
    return _holder(node, name, dotted), name


def _holder(node: Any, name: str, dotted: str) -> dict[str, Any]:
    while isinstance(node, dict) and isinstance(node.get("items"), dict):
        node = node["items"]
    properties = node.get("properties") if isinstance(node, dict) else None
    if not isinstance(properties, dict) or name not in properties:
        raise KeyError(f"no property {dotted!r} in the schema")
    return properties


def enum_field(document: Mapping[str, Any], name: str, values: Sequence[str]) -> JSONSchema:
    """A copy of ``document`` (a schema, a tool or a ``response_format``) whose property
    ``name`` (dotted for nested ones: ``"ticket.category"``) may only be one of
    ``values``.  An array of strings gets the enum on its items.  The description and
    every other keyword are kept; length bounds that an enum makes moot are dropped.
    ``KeyError`` if there is no such property, ``ValueError`` for an empty or repeated
    value list, ``TypeError`` for a document that is not an object."""
    if not values or len(set(values)) != len(values) or not all(isinstance(v, str) for v in values):
        raise ValueError("an enum needs distinct string values")
    out = copy.deepcopy(_document(document))
    schema, _ = schema_of(out)
    properties, last = _properties_at(schema, name)
    target = properties[last] if isinstance(properties[last], dict) else {}
    if target.get("type") == "array" and isinstance(target.get("items"), dict):
        target = target["items"]
    for moot in ("maxLength", "minLength", "pattern", "format", "const"):
        target.pop(moot, None)
    target["type"] = "string"
    target["enum"] = list(values)
    if not isinstance(properties[last], dict):
        properties[last] = target
    return out


@dataclass(frozen=True, slots=True)
class Legend:
    """Short IDs and what they stand for.  ``text()`` is what to put in the prompt;
    ``decode(answer)`` replaces the IDs in a parsed answer with their meaning."""

    entries: dict[str, str] = field(default_factory=dict)  # id -> meaning

    def text(self, title: str = "IDs used in the answer format:") -> str:
        return "\n".join([title, *(f"{key}: {meaning}" for key, meaning in self.entries.items())])

    def decode(self, answer: Any) -> Any:
        """``answer`` with every string that is an ID replaced by its meaning (in lists and
        objects too; a new value, the answer is not modified)."""
        if isinstance(answer, str):
            return self.entries.get(answer, answer)
        if isinstance(answer, list):
            return [self.decode(item) for item in answer]
        if isinstance(answer, dict):
            return {key: self.decode(value) for key, value in answer.items()}
        return answer


def reference_ids(
    document: Mapping[str, Any], *, prefix: str = "R", min_length: int = MIN_LONG_ENUM
) -> tuple[JSONSchema, Legend]:
    """A copy of ``document`` where every enum value of ``min_length`` characters or more
    becomes a short ID (``R1``, ``R2``...; the same text gets the same ID everywhere), and
    every description of :data:`~thrifty.lint.schema.MIN_REPEATED` characters or more that
    is repeated becomes ``"See R3."``; and the :class:`Legend` of the IDs.  An ID is never
    one of the schema's own enum or const values (``R1`` in the enum already: the first ID
    is ``R2``), so every enum stays a set of distinct values and decoding is unambiguous."""
    out = copy.deepcopy(_document(document))
    schema, _ = schema_of(out)
    nodes = list(_subschemas(schema))
    taken = {v for node in nodes for v in _values(node)}  # an ID never equals a real value
    ids: dict[str, str] = {}  # meaning -> id
    number = 0

    def id_of(meaning: str) -> str:
        nonlocal number
        if meaning not in ids:
            number += 1
            while f"{prefix}{number}" in taken:
                number += 1
            ids[meaning] = f"{prefix}{number}"
        return ids[meaning]

    seen: dict[str, int] = {}
    for node in nodes:
        text = node.get("description")
        if isinstance(text, str) and len(text) >= MIN_REPEATED:
            seen[text] = seen.get(text, 0) + 1
    for node in nodes:
        enum = node.get("enum")
        if isinstance(enum, list):
            node["enum"] = [
                id_of(v) if isinstance(v, str) and len(v) >= min_length else v for v in enum
            ]
        text = node.get("description")
        if isinstance(text, str) and seen.get(text, 0) > 1:
            node["description"] = f"See {id_of(text)}."
    return out, Legend({key: meaning for meaning, key in ids.items()})


def _document(document: Any) -> dict[str, Any]:
    if not isinstance(document, Mapping):
        kind = type(document).__name__
        raise TypeError(f"expected a schema, a tool or a response_format (an object), not {kind}")
    return dict(document)


def _values(node: Mapping[str, Any]) -> Iterator[str]:
    """The strings a schema node lets the answer hold verbatim (its enum and const)."""
    enum = node.get("enum")
    if isinstance(enum, list):
        yield from (v for v in enum if isinstance(v, str))
    if isinstance(node.get("const"), str):
        yield node["const"]


def _subschemas(node: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    yield node
    for key in ("properties", "$defs", "definitions"):
        children = node.get(key)
        if isinstance(children, dict):
            for child in children.values():
                yield from _subschemas(child)
    for key in ("items", "additionalProperties", "not"):
        yield from _subschemas(node.get(key))
    for key in ("prefixItems", "anyOf", "oneOf", "allOf"):
        children = node.get(key)
        if isinstance(children, list):
            for child in children:
                yield from _subschemas(child)
