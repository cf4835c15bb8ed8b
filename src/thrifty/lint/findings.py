"""A lint finding: a code, where, why it costs output tokens, and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing in a schema or prompt that invites long output.

    ``path`` is a JSON pointer into the schema (``/properties/reasoning``) or ``line N``
    of a prompt; ``source`` names the file (or ``None`` for a library call)."""

    code: str
    path: str
    why: str
    fix: str
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "source": self.source,
            "path": self.path,
            "why": self.why,
            "fix": self.fix,
        }

    def text(self) -> str:
        path = self.path or "(top level)"  # the JSON pointer of the whole schema is ""
        where = f"{self.source}:{path}" if self.source else path
        return f"{where}: {self.code} {self.why}\n    fix: {self.fix}"


# The codes, for the docs and for tests: code -> short name.
CODES = {
    "OUT001": "free-text confidence",
    "OUT002": "free-text reasoning field",
    "OUT003": "unbounded array",
    "OUT004": "category without enum",
    "OUT005": "description asks for prose",
    "OUT006": "description repeated instead of an ID",
    "OUT007": "long enum values instead of IDs",
    "PRM001": "asks for detail",
    "PRM002": "asks for reasoning in the answer",
    "PRM003": "asks for confidence in prose",
    "PRM004": "repeated instruction",
}
