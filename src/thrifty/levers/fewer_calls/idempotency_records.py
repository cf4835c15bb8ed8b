"""What the idempotency lever keeps for a key, and where.

A record is the complete answer an ``Idempotency-Key`` got the first time: the request's
fingerprint (so a reuse with another body is told apart), the answer as the app received
it (a JSON body, or the raw bytes of every stream event, replayed verbatim), its usage,
model and provider.  Records are JSON (``orjson``) in a
:class:`~thrifty.store.protocols.Cache` under ``idem:`` + SHA-256(tenant, key): SQLite
next to the ledger by default (``thrifty.db`` -> ``thrifty-idempotency.db``), or memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import orjson

from thrifty.config import IdempotencySettings, Settings
from thrifty.store import Cache, MemoryCache, SqliteCache
from thrifty.types import JSON, ChatRequest, ChatResponse, Dialect, StreamEvent, Usage

log = logging.getLogger("thrifty.idempotency")

RECORD_VERSION = 1
PROVIDER = "idempotency"  # the provider named on a replayed answer


class CorruptRecord(ValueError):
    """A stored record that cannot be read (another version, damaged bytes)."""


def slot_of(tenant: str | None, key: str) -> str:
    """The store key of an ``Idempotency-Key`` in a tenant (bounded, and the app's key is
    never stored as such)."""
    digest = hashlib.sha256(f"{tenant or ''}\n{key}".encode()).hexdigest()
    return f"idem:{digest}"


def fingerprint(request: ChatRequest) -> str:
    """What must match for a key to be replayed: the body (key order aside), the model,
    dialect, API, task and forwarded headers."""
    what = {
        "dialect": request.dialect,
        "api": request.api,
        "model": request.model,
        "task": request.task,
        "headers": sorted(request.upstream_headers),
        "body": request.body,
    }
    try:
        data = orjson.dumps(what, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # a library caller's odd value: its text
        data = json.dumps(what, sort_keys=True, default=str).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """A complete answer, as kept for its key."""

    fingerprint: str
    dialect: Dialect
    model: str
    provider: str
    usage: Usage
    usage_reported: bool
    body: JSON | None = None
    events: tuple[tuple[str | None, bytes], ...] = ()  # (event name, raw SSE bytes)
    upstream_request_id: str | None = None
    truncated: bool = False  # the answer was cut by its length limit

    @classmethod
    def of(cls, fp: str, response: ChatResponse, events: Sequence[StreamEvent] = ()) -> Record:
        return cls(
            fingerprint=fp,
            dialect=response.dialect,
            model=response.model,
            provider=response.provider,
            usage=response.usage,
            usage_reported=response.usage_reported,
            body=response.parsed_body(),
            events=tuple((e.event, e.raw) for e in events),
            upstream_request_id=response.upstream_request_id,
            truncated=response.truncated,
        )

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "v": RECORD_VERSION,
                "fp": self.fingerprint,
                "dialect": self.dialect,
                "model": self.model,
                "provider": self.provider,
                "usage": self.usage.counts(),
                "usage_reported": self.usage_reported,
                "body": self.body,
                "events": [[name, raw.decode("utf-8")] for name, raw in self.events],
                "request_id": self.upstream_request_id,
                "truncated": self.truncated,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> Record:
        try:
            data = orjson.loads(raw)
            if data["v"] != RECORD_VERSION or data["dialect"] not in ("openai", "anthropic"):
                raise CorruptRecord(f"record version {data['v']!r} / {data['dialect']!r}")
            usage = Usage.from_counts(data["usage"])
            events = tuple((name, text.encode("utf-8")) for name, text in data["events"])
            body = data["body"]
            if body is not None and not isinstance(body, dict):
                raise CorruptRecord("record body is not an object")
            if (body is None) == (not events):
                raise CorruptRecord("a record holds a body or events, exactly one")
            return cls(
                fingerprint=str(data["fp"]),
                dialect=data["dialect"],
                model=str(data["model"]),
                provider=str(data["provider"]),
                usage=usage,
                usage_reported=bool(data["usage_reported"]),
                body=body,
                events=events,
                upstream_request_id=data["request_id"],
                truncated=data.get("truncated") is True,  # absent from older records
            )
        except CorruptRecord:
            raise
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptRecord(f"unreadable idempotency record: {exc!r}") from None


def _event(name: str | None, raw: bytes) -> StreamEvent:
    """A stored event as read off the wire (its JSON parsed only if a stage reads it)."""
    start = raw.find(b"data:")
    payload = raw[start + 5 :].strip() if start >= 0 else b""
    return StreamEvent.from_wire(name, payload, raw)


def replayed(record: Record) -> ChatResponse:
    """``record`` as a new answer with no provider call: its own copy of the body, or its
    events as one batch (complete while produced, so the ledger books it first)."""
    response = ChatResponse(
        dialect=record.dialect,
        model=record.model,
        provider=PROVIDER,
        usage=record.usage,
        usage_reported=record.usage_reported,
        upstream_request_id=record.upstream_request_id,
        truncated=record.truncated,
    )
    if record.body is not None:
        copied = orjson.loads(orjson.dumps(record.body))
        response.body = copied
        return response
    events = [_event(name, raw) for name, raw in record.events]

    async def one_batch() -> AsyncIterator[Sequence[StreamEvent]]:
        response.stream_complete = True
        yield events

    response.stream = one_batch()
    return response


def store_path(settings: Settings) -> Path:
    """``[levers.idempotency] path``, else next to the ledger."""
    configured = settings.levers.idempotency.path
    if configured is not None:
        return Path(configured)
    return settings.ledger.beside("idempotency")


def new_store(settings: Settings) -> Cache:
    """The configured store, not opened (a SQLite one must be ``open()``-ed)."""
    lever: IdempotencySettings = settings.levers.idempotency
    largest = min(lever.max_entry_bytes, lever.max_bytes)
    if lever.backend == "memory":
        return MemoryCache(
            max_entries=lever.max_entries, max_bytes=lever.max_bytes, max_value_bytes=largest
        )
    return SqliteCache(
        store_path(settings),
        table="idempotency",
        max_entries=lever.max_entries,
        max_bytes=lever.max_bytes,
        max_value_bytes=largest,
    )
