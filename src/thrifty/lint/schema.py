"""``lint_schema``: a JSON schema (or a tool, a list of tools, an OpenAI
``response_format``) checked for what invites long answers.

Output tokens cost four to eight times input tokens, and a schema is the one place where
an app says how long its answers may be.  The rules (codes in :data:`.findings.CODES`):

* OUT001: a ``confidence``-like field that is free text ("fairly confident, because...");
* OUT002: a ``reasoning``/``explanation``-like string with no ``maxLength``;
* OUT003: an array with no ``maxItems``;
* OUT004: a string whose name says it is a category (``status``, ``sentiment``...) with no
  ``enum``;
* OUT005: a string whose description asks for prose ("explain in detail") with no
  ``maxLength``;
* OUT006: the same long description repeated on several fields;
* OUT007: an ``enum`` of long sentences (the model writes the sentence back every time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from thrifty.lint.findings import Finding

_CONFIDENCE = re.compile(r"(?i)(confidence|certainty|likelihood|probability|sure)")
_PROSE = re.compile(
    r"(?i)(reason|explanation|explain|rationale|justification|justify|thought|thinking|"
    r"analysis|commentary|comment|notes?$|remarks|chain_of_thought|cot$|discussion)"
)
_CATEGORY = re.compile(
    r"(?i)(category|categories|type|kind|label|status|class|sentiment|priority|severity|"
    r"level|tier|intent|topic|tone|mood|stage|state|grade|rating|verdict|decision|outcome|"
    r"language|department|channel)$"
)
PROSE_WORDS = re.compile(
    r"(?i)\b(in detail|detailed|step[- ]by[- ]step|elaborate|thorough(ly)?|comprehensive(ly)?|"
    r"at length|explain|describe fully|as much as possible|verbose)\b"
)
_BOUNDED = ("enum", "const", "maxLength", "pattern", "format")
MIN_REPEATED = 40  # a description this long, said twice, is worth an ID
MIN_LONG_ENUM = 30  # an enum value this long is a sentence, not an ID


def schema_of(document: Any) -> tuple[Any, str]:
    """The schema inside ``document`` and its JSON pointer: an OpenAI ``response_format``
    (``json_schema.schema``), an OpenAI tool (``function.parameters``), an Anthropic tool
    (``input_schema``), or the document itself."""
    if isinstance(document, Mapping):
        inner = document.get("json_schema")
        if isinstance(inner, Mapping) and isinstance(inner.get("schema"), Mapping):
            return inner["schema"], "/json_schema/schema"
        function = document.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("parameters"), Mapping):
            return function["parameters"], "/function/parameters"
        if isinstance(document.get("input_schema"), Mapping):
            return document["input_schema"], "/input_schema"
    return document, ""


def lint_schema(document: Any, *, source: str | None = None) -> list[Finding]:
    """Findings for ``document`` (a schema, a tool, a list of tools or a
    ``response_format``), sorted by path.  An empty list: nothing to fix."""
    if isinstance(document, list):
        out: list[Finding] = []
        for index, item in enumerate(document):
            for finding in lint_schema(item, source=source):
                out.append(_at(finding, f"/{index}{finding.path}"))
        return out
    schema, base = schema_of(document)
    findings: list[Finding] = []
    descriptions: dict[str, list[str]] = {}
    for path, name, node in _nodes(schema, base):
        findings.extend(_node_findings(path, name, node))
        text = node.get("description")
        if isinstance(text, str) and len(text.strip()) >= MIN_REPEATED:
            descriptions.setdefault(" ".join(text.split()), []).append(path)
    for text, paths in descriptions.items():
        for path in paths[1:]:
            why = f"the same {len(text)}-character description as {paths[0]}, sent on every call"
            fix = (
                "define it once under $defs and $ref it, or give the field a short ID and "
                "put the description in a legend (thrifty.output.reference_ids)"
            )
            findings.append(Finding("OUT006", path, why, fix))
    findings.sort(key=lambda f: _order(f.path))
    return [_at(f, f.path, source) for f in findings]


def _at(finding: Finding, path: str, source: str | None = None) -> Finding:
    return Finding(finding.code, path, finding.why, finding.fix, source or finding.source)


def _order(path: str) -> list[str]:
    return path.split("/")


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _nodes(node: Any, path: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Every subschema of ``node`` with its JSON pointer and the property name it is the
    schema of (``""`` for none), depth first in document order.  Iterative, so a schema
    nested thousands deep is read like any other; a mapping that contains itself (only a
    library caller can build one) is read once on each path, not forever."""
    stack: list[tuple[Any, str, str, tuple[int, ...]]] = [(node, path, "", ())]
    while stack:
        current, where, name, above = stack.pop()
        if not isinstance(current, Mapping) or id(current) in above:
            continue
        yield where, name, current
        trail = (*above, id(current))
        children: list[tuple[Any, str, str, tuple[int, ...]]] = []
        properties = current.get("properties")
        if isinstance(properties, Mapping):
            for key, child in properties.items():
                children.append((child, f"{where}/properties/{_escape(str(key))}", str(key), trail))
        for key in ("items", "additionalProperties", "not"):
            children.append((current.get(key), f"{where}/{key}", name, trail))
        for key in ("prefixItems", "anyOf", "oneOf", "allOf"):
            items = current.get(key)
            if isinstance(items, list):
                for index, child in enumerate(items):
                    children.append((child, f"{where}/{key}/{index}", name, trail))
        for key in ("$defs", "definitions"):
            defs = current.get(key)
            if isinstance(defs, Mapping):
                for def_name, child in defs.items():
                    escaped = _escape(str(def_name))
                    children.append((child, f"{where}/{key}/{escaped}", str(def_name), trail))
        stack.extend(reversed(children))


def _types(node: Mapping[str, Any]) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()


def _node_findings(path: str, name: str, node: Mapping[str, Any]) -> Iterator[Finding]:
    types = _types(node)
    free_string = "string" in types and not any(k in node for k in _BOUNDED)
    if "array" in types and "maxItems" not in node:
        yield Finding(
            "OUT003",
            path,
            "an array with no maxItems: the model decides how many items to write",
            'set "maxItems" to the most you will use (e.g. 5)',
        )
    enum = node.get("enum")
    if isinstance(enum, list):
        long_values = [v for v in enum if isinstance(v, str) and len(v) >= MIN_LONG_ENUM]
        if long_values:
            yield Finding(
                "OUT007",
                path,
                f"{len(long_values)} enum value(s) of {MIN_LONG_ENUM}+ characters: the model "
                "writes the whole sentence back in every answer",
                "use short IDs as the enum and a legend in the prompt "
                "(thrifty.output.reference_ids)",
            )
    if not free_string or not name:
        description = node.get("description")
        if free_string and isinstance(description, str) and PROSE_WORDS.search(description):
            yield _prose_description(path)
        return
    if _CONFIDENCE.search(name):
        yield Finding(
            "OUT001",
            path,
            f"{name!r} is free text: the model writes a sentence where a level would do",
            'make it {"enum": ["low", "medium", "high"]}, or a number with minimum 0 and maximum 1',
        )
    elif _PROSE.search(name):
        yield Finding(
            "OUT002",
            path,
            f"{name!r} is a free-text string with no maxLength: it invites paragraphs on "
            "every call",
            'drop the field if nothing reads it, or bound it ("maxLength": 200)',
        )
    elif _CATEGORY.search(name):
        yield Finding(
            "OUT004",
            path,
            f"{name!r} names a category but any text is allowed",
            "list the known values as an enum (thrifty.output.enum_field)",
        )
    else:
        description = node.get("description")
        if isinstance(description, str) and PROSE_WORDS.search(description):
            yield _prose_description(path)


def _prose_description(path: str) -> Finding:
    return Finding(
        "OUT005",
        path,
        "its description asks for prose (explain, in detail...) and no maxLength bounds it",
        'ask for the fact itself, and set "maxLength"',
    )
