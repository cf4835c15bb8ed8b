"""Strict JSON checks for the local tier: what JSON a request asks for, and whether an
answer is that JSON.

A request asks for JSON with OpenAI's ``response_format`` (``json_object``, or
``json_schema`` with its ``schema``) or Anthropic's ``output_format`` /
``output_config.format`` (``json_schema`` with its ``schema``).  The answer's text must
then be one JSON document, strictly (no Markdown fence, no text around it, no ``NaN``): a
JSON object for ``json_object``, an instance valid against the schema (``jsonschema``, the
draft the schema names, 2020-12 by default, with format checks) for ``json_schema``.  Every
choice of an OpenAI answer is checked; a choice that calls tools instead must give each call
arguments that are a JSON object.  An answer with no text and no tool call is not JSON.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson

from thrifty.dialects.view import RequestView
from thrifty.types import JSON, ChatRequest, Dialect

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

# Why a local answer was refused (the suffix of ``x-thrifty-local: fallback-...``).
Refusal = Literal["invalid-json", "schema-mismatch"]
MAX_DETAIL = 160  # a reason is a short sentence in the ledger's step detail
MAX_SCHEMAS = 256  # compiled validators kept per stage (most apps send a handful)


@dataclass(frozen=True, slots=True)
class Verdict:
    """``refusal`` is ``None`` when the answer is the JSON the request asked for."""

    refusal: Refusal | None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.refusal is None


ACCEPTED = Verdict(None)


class BadSchema(ValueError):
    """The request's own schema is not a valid JSON Schema: no answer could be checked."""


def requested_schema(request: ChatRequest) -> tuple[bool, JSON | None]:
    """``(asks_for_json, schema)``: whether the request asks for JSON, and the schema its
    answer must satisfy (``None``: any JSON object)."""
    fmt = RequestView.of(request).response_format
    if not isinstance(fmt, dict):
        return False, None
    kind = fmt.get("type")
    if kind == "json_object":
        return True, None
    if kind != "json_schema":
        return False, None
    holder = fmt.get("json_schema") if request.dialect == "openai" else fmt
    schema = holder.get("schema") if isinstance(holder, dict) else None
    if schema is None:
        return True, None
    if not isinstance(schema, dict):
        raise BadSchema("the request's JSON schema is not an object")
    return True, schema


class JsonChecks:
    """Compiles each distinct schema once (a bounded, least-recently-used set)."""

    def __init__(self, max_schemas: int = MAX_SCHEMAS) -> None:
        self._max = max_schemas
        self._compiled: OrderedDict[bytes, Validator] = OrderedDict()

    def check_for(self, request: ChatRequest) -> AnswerCheck | None:
        """The check the request's answer must pass (``None``: it asks for no JSON).
        Raises :class:`BadSchema` when the request's schema is invalid."""
        asks, schema = requested_schema(request)
        if not asks:
            return None
        return AnswerCheck(None if schema is None else self._validator(schema))

    def _validator(self, schema: JSON) -> Validator:
        key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        found = self._compiled.get(key)
        if found is not None:
            self._compiled.move_to_end(key)
            return found
        from jsonschema import Draft202012Validator, exceptions, validators

        cls = validators.validator_for(schema, default=Draft202012Validator)
        try:
            cls.check_schema(schema)
        except exceptions.SchemaError as error:
            raise BadSchema(f"the request's JSON schema is invalid: {error.message}") from None
        made: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
        self._compiled[key] = made
        if len(self._compiled) > self._max:
            self._compiled.popitem(last=False)
        return made


def _short(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


class AnswerCheck:
    """Checks a complete answer body against what one request asked for."""

    __slots__ = ("_validator",)

    def __init__(self, validator: Validator | None) -> None:
        self._validator = validator  # None: any JSON object

    def verdict(self, body: JSON | None, dialect: Dialect) -> Verdict:
        if not isinstance(body, dict):
            return Verdict("invalid-json", "no answer body")
        try:
            outputs = _outputs(body, dialect)
        except (TypeError, KeyError, AttributeError):
            return Verdict("invalid-json", "the answer has no readable content")
        if not outputs:
            return Verdict("invalid-json", "the answer is empty")
        for text, is_tool in outputs:
            verdict = self._judge(text, is_tool)
            if not verdict.accepted:
                return verdict
        return ACCEPTED

    def _judge(self, text: str | None, is_tool: bool) -> Verdict:
        if text is None:
            return ACCEPTED  # an Anthropic tool call: its input is already a JSON object
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            return Verdict("invalid-json", _short(f"not JSON: {error}"))
        if is_tool or self._validator is None:
            if isinstance(value, dict):
                return ACCEPTED
            what = "tool arguments" if is_tool else "the answer"
            return Verdict("invalid-json", f"{what}: JSON but not an object")
        mismatch = next(iter(self._validator.iter_errors(value)), None)
        if mismatch is not None:
            where = "/".join(str(p) for p in mismatch.absolute_path) or "(root)"
            return Verdict("schema-mismatch", _short(f"{where}: {mismatch.message}"))
        return ACCEPTED


def _outputs(body: JSON, dialect: Dialect) -> list[tuple[str | None, bool]]:
    """Each output to check: ``(text, is_tool_arguments)``; ``text`` is ``None`` for an
    Anthropic tool call (its input is an object by construction)."""
    outputs: list[tuple[str | None, bool]] = []
    if dialect == "anthropic":
        texts: list[str] = []
        for block in body["content"]:
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_use":
                outputs.append((None, True))
        if texts:
            outputs.append(("".join(texts), False))
        return outputs
    for choice in body["choices"]:
        message: dict[str, Any] = choice["message"]
        calls = message.get("tool_calls") or []
        for call in calls:
            outputs.append((str(call["function"]["arguments"]), True))
        content = message.get("content")
        if isinstance(content, str) and (content or not calls):
            outputs.append((content, False))
        elif not calls:
            return []  # a choice with neither text nor a tool call
    return outputs
