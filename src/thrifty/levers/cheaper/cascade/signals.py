"""Confidence signals: each reads a tier's answer and says whether to keep it.

A signal is anything with a ``name`` and ``judge(answer) -> Verdict``; the stage accepts a
tier's answer when every signal of the task accepts it (checked in order, stopping at the
first refusal).  Built in:

* :class:`JsonSchemaCheck`: the answer is JSON valid against a JSON Schema (``jsonschema``,
  the draft the schema names, 2020-12 by default);
* :class:`RegexCheck`: the answer text matches a regular expression (``re.search``);
* :class:`FunctionCheck`: a user function ``(request, answer) -> bool`` (``"module:name"``);
* :class:`SelfReported`: a confidence level the model states in its JSON answer
  (``{"answer": ..., "confidence": "high"}``) is one of the accepted levels;
* :class:`LogprobCheck`: the answer's mean token log-probability reaches a floor (where
  the provider returns log-probabilities; an answer without them is not accepted).

The agreement check and the learned scorer live in ``agreement.py`` and ``scorer.py``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from thrifty.levers.cheaper.cascade.answers import TierAnswer
from thrifty.types import ChatRequest

MAX_REASON = 160


@dataclass(frozen=True, slots=True)
class Verdict:
    accept: bool
    reason: str  # short, for the ledger's detail: "schema ok", "regex no match"

    @classmethod
    def of(cls, accept: bool, reason: str) -> Verdict:
        return cls(accept, reason[:MAX_REASON])


class Signal(Protocol):
    name: str

    def judge(self, request: ChatRequest, answer: TierAnswer) -> Verdict: ...


class SignalError(ValueError):
    """A signal that cannot be built from its settings (bad schema, bad regex...)."""


def read_json_object(path: Path, limit: int, what: str) -> dict[str, Any]:
    """The JSON object in the file ``path`` (at most ``limit`` bytes); a
    :class:`SignalError` naming ``what`` and the file otherwise."""
    try:
        size = path.stat().st_size
        data = None if size > limit else json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SignalError(f"{what} {path}: {error}") from None
    if data is None:
        raise SignalError(f"{what} {path}: larger than {limit} bytes")
    if not isinstance(data, dict):
        raise SignalError(f"{what} {path}: not a JSON object")
    return data


class JsonSchemaCheck:
    name = "schema"

    def __init__(self, schema: dict[str, Any]) -> None:
        try:
            from jsonschema import exceptions, validators
        except ImportError as error:  # pragma: no cover - the cascade extra installs it
            raise SignalError(
                "json_schema needs the jsonschema package: pip install 'thrifty[cascade]'"
            ) from error
        cls = validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except exceptions.SchemaError as error:
            raise SignalError(f"json_schema is not a valid JSON Schema: {error.message}") from None
        self._validator = cls(schema)

    def judge(self, request: ChatRequest, answer: TierAnswer) -> Verdict:
        try:
            value = answer.json()
        except ValueError:
            return Verdict.of(False, "schema: answer is not JSON")
        error = next(iter(self._validator.iter_errors(value)), None)
        if error is not None:
            return Verdict.of(False, f"schema: {error.message}")
        return Verdict.of(True, "schema ok")


class RegexCheck:
    name = "regex"

    def __init__(self, pattern: str) -> None:
        try:
            self._pattern = re.compile(pattern)
        except re.error as error:
            raise SignalError(f"regex {pattern!r} does not compile: {error}") from None

    def judge(self, request: ChatRequest, answer: TierAnswer) -> Verdict:
        if self._pattern.search(answer.text):
            return Verdict.of(True, "regex ok")
        return Verdict.of(False, "regex: no match")


UserCheck = Callable[[ChatRequest, TierAnswer], object]


class FunctionCheck:
    name = "function"

    def __init__(self, function: UserCheck, label: str) -> None:
        self._function = function
        self._label = label

    @classmethod
    def load(cls, spec: str) -> FunctionCheck:
        """The function named ``"package.module:name"``."""
        module_name, _, attribute = spec.partition(":")
        if not module_name or not attribute:
            raise SignalError(f"function {spec!r}: expected 'module:name'")
        try:
            found = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise SignalError(f"function {spec!r} cannot be loaded: {error}") from None
        if not callable(found) or inspect.iscoroutinefunction(found):
            raise SignalError(f"function {spec!r} must be a plain (not async) callable")
        return cls(found, spec)

    def judge(self, request: ChatRequest, answer: TierAnswer) -> Verdict:
        try:
            accepted = self._function(request, answer)
        except Exception as error:  # a user function that fails rejects the answer
            return Verdict.of(False, f"function {self._label} raised {type(error).__name__}")
        if not isinstance(accepted, bool):
            return Verdict.of(False, f"function {self._label} returned a non-bool")
        return Verdict.of(accepted, f"function {'ok' if accepted else 'refused'}")


class SelfReported:
    name = "self_reported"

    def __init__(self, field: str, accept: Sequence[str]) -> None:
        if not accept:
            raise SignalError("confidence_accept must name at least one level")
        self._field = field
        self._accept = frozenset(level.lower() for level in accept)

    def judge(self, request: ChatRequest, answer: TierAnswer) -> Verdict:
        try:
            value = answer.json()
        except ValueError:
            return Verdict.of(False, "self-reported: answer is not JSON")
        level = value.get(self._field) if isinstance(value, dict) else None
        if not isinstance(level, str):
            return Verdict.of(False, f"self-reported: no {self._field!r}")
        accepted = level.lower() in self._accept
        return Verdict.of(accepted, f"self-reported {level.lower()}")


class LogprobCheck:
    name = "logprobs"

    def __init__(self, floor: float) -> None:
        self.floor = floor

    def judge(self, request: ChatRequest, answer: TierAnswer) -> Verdict:
        mean = answer.mean_logprob()
        if mean is None:
            return Verdict.of(False, "logprobs: none returned")
        return Verdict.of(mean >= self.floor, f"mean logprob {mean:.3f}")


def judge_all(signals: Sequence[Signal], request: ChatRequest, answer: TierAnswer) -> Verdict:
    """Every signal's verdict in order, stopping at the first refusal; the reasons joined."""
    reasons = []
    for signal in signals:
        verdict = signal.judge(request, answer)
        reasons.append(verdict.reason)
        if not verdict.accept:
            return Verdict(False, ", ".join(reasons))
    return Verdict(True, ", ".join(reasons) or "no signal")
