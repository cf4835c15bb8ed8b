"""Candidate documents and the metadata filter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Where = Mapping[str, Any] | Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class Document:
    """One candidate: its text, an optional id, and metadata to filter on."""

    text: str
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def as_document(value: Any, index: int) -> Document:
    """A :class:`Document` from a document, a string, or a mapping with ``text`` (and
    optional ``id`` and ``metadata``).  ``ValueError`` names what is wrong."""
    if isinstance(value, Document):
        return value
    if isinstance(value, str):
        return Document(value)
    if isinstance(value, Mapping):
        text = value.get("text")
        if not isinstance(text, str):
            raise ValueError(f"document {index}: 'text' must be a string")
        ident = value.get("id")
        if ident is not None and not isinstance(ident, str | int):
            raise ValueError(f"document {index}: 'id' must be a string or a number")
        metadata = value.get("metadata", {})
        if not isinstance(metadata, Mapping):
            raise ValueError(f"document {index}: 'metadata' must be an object")
        return Document(text, None if ident is None else str(ident), metadata)
    raise ValueError(f"document {index}: expected a string or an object with 'text'")


def matches(metadata: Mapping[str, Any], where: Where | None) -> bool:
    """Whether ``metadata`` passes ``where``: a callable, or a mapping of key to the value
    required (a list or tuple: any of these values).  A missing key never matches."""
    if where is None:
        return True
    if callable(where):
        return bool(where(metadata))
    for key, wanted in where.items():
        if key not in metadata:
            return False
        value = metadata[key]
        if isinstance(wanted, list | tuple | set | frozenset):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True
