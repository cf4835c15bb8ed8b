"""Core data types shared by every stage of the pipeline.

Conventions (see docs/architecture.md):

* Token usage is normalised ONCE, at the provider boundary, into :class:`Usage`.
  ``input_tokens`` counts *every* prompt token, cached or not (OpenAI's convention and
  genai-prices' convention); the cache fields are subsets of it.  ``output_tokens``
  counts every generated token, reasoning included.
* Money is :class:`decimal.Decimal` in US dollars, never ``float``.
* A request travels in the wire dialect the app used (``body``); stages rewrite it with
  :func:`dataclasses.replace`, never in place.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import orjson

from thrifty.stream_event import MalformedEvent as MalformedEvent
from thrifty.stream_event import StreamEvent as StreamEvent

Dialect = Literal["openai", "anthropic"]
# The API operation a request calls.  Only "chat" exists in both dialects (OpenAI chat
# completions, Anthropic messages); the others are OpenAI-only: the Responses API
# (``/v1/responses``), embeddings (``/v1/embeddings``) and legacy text completions
# (``/v1/completions``).  Levers that read chat bodies skip every other operation.
Api = Literal["chat", "responses", "embeddings", "completions"]
JSON = dict[str, Any]


USAGE_COUNTS = 6  # the fields of Usage, all token counts


@dataclass(frozen=True, slots=True)
class Usage:
    """Normalised token usage of one call.

    Invariants (checked in ``__post_init__``):

    * ``input_tokens >= cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens``
      (the cache counts are parts of the input, never additions to it);
    * ``output_tokens >= reasoning_tokens``.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0

    def __post_init__(self) -> None:
        counts = (
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_5m_tokens,
            self.cache_write_1h_tokens,
            self.reasoning_tokens,
        )
        if min(counts) < 0:  # (not any() over a generator: a Usage is made per call)
            raise ValueError(f"token counts must be >= 0: {self!r}")
        if self.cache_read_tokens + self.cache_write_tokens > self.input_tokens:
            raise ValueError(f"cache tokens exceed input tokens: {self!r}")
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError(f"reasoning tokens exceed output tokens: {self!r}")

    def counts(self) -> list[int]:
        """The six counts in field order: the compact form stores keep (see
        :meth:`from_counts`)."""
        return [
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_5m_tokens,
            self.cache_write_1h_tokens,
            self.reasoning_tokens,
        ]

    @classmethod
    def from_counts(cls, counts: object) -> Usage:
        """The usage whose :meth:`counts` are ``counts``; ``ValueError`` for anything else
        (not a list of six whole numbers, or impossible counts)."""
        if (
            not isinstance(counts, (list, tuple))
            or len(counts) != USAGE_COUNTS
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in counts)
        ):
            raise ValueError(f"usage counts must be {USAGE_COUNTS} whole numbers")
        return cls(*counts)

    @property
    def cache_write_tokens(self) -> int:
        """Tokens written to the prompt cache, both lifetimes."""
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens billed at the plain input rate."""
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_5m_tokens=self.cache_write_5m_tokens + other.cache_write_5m_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


@dataclass(frozen=True, slots=True)
class Cost:
    """What a call cost.  ``usd`` is ``None`` when the model has no known price:
    an unpriced call is never booked as $0."""

    usd: Decimal | None
    source: str  # "genai-prices", "override", "local", "unpriced", "no_usage" or "none"
    estimated: bool = False  # priced from token counts thrifty estimated (a cut stream)

    @property
    def priced(self) -> bool:
        return self.usd is not None


UNPRICED = Cost(usd=None, source="unpriced")

Lever = Literal[
    "routing",
    "cascade",
    "learned_routing",
    "shadow",  # shadow evaluation: a strong model's answer to compare (a cost, never a saving)
    "local",
    "batch",
    "prompt_cache",
    "output",
    "context",
    "compress",
    "history",
    "memo",
    "cache",  # the exact cache (memoization)
    "semantic_cache",
    "coalesce",
    "idempotency",
]


@dataclass(frozen=True, slots=True)
class TokenChange:
    """What a lever changed in the token counts of the call that answered, signed:
    ``input_tokens=-500`` means the lever removed 500 prompt tokens (compression), and
    ``cache_read_tokens=+8000`` with no input change means it turned 8,000 plain prompt
    tokens into cache reads (prompt-cache planning).  The Accountant undoes every change
    to find the baseline usage and prices each lever's share; levers never price."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0

    def apply(self, usage: Usage, sign: int = 1) -> Usage:
        """``usage`` with this change applied (``sign=-1``: undone).  Raises
        ``ValueError`` when the result is not a valid :class:`Usage`."""
        return Usage(
            input_tokens=usage.input_tokens + sign * self.input_tokens,
            output_tokens=usage.output_tokens + sign * self.output_tokens,
            cache_read_tokens=usage.cache_read_tokens + sign * self.cache_read_tokens,
            cache_write_5m_tokens=usage.cache_write_5m_tokens + sign * self.cache_write_5m_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens + sign * self.cache_write_1h_tokens,
            reasoning_tokens=usage.reasoning_tokens + sign * self.reasoning_tokens,
        )


@dataclass(slots=True)
class Step:
    """One thing a lever did to a request, stated as facts the Accountant can price.

    * ``tokens``: the lever changed the token counts of the answering call (compression,
      history trimming, output caps, prompt-cache planning).
    * ``avoided``: the lever answered without calling the provider (cache hit, coalesced,
      idempotent replay); this is the usage of the call it avoided (the stored call's).
    * neither: the lever changed the model or the rate (routing, cascade, batch); the
      Accountant reads that from the calls themselves.

    Calls a lever paid for besides the answering one (a cascade's rejected cheap answer,
    an embedding, a shadow call) are :class:`Call` entries with ``lever`` set, in
    ``ChatResponse.lever_calls``: they book as negative savings of that lever.

    ``saved_usd`` is filled in by the Accountant (``None``: unknown).  Levers never set it.
    """

    lever: Lever
    detail: str
    tokens: TokenChange | None = None
    avoided: Usage | None = None
    saved_usd: Decimal | None = None


@dataclass(slots=True)
class Call:
    """One upstream call, as billed: what the Accountant prices.

    ``usage_reported`` is False when the provider sent no token counts (the call is then
    unpriced, never $0); ``usage_estimated`` marks counts thrifty estimated itself (a
    stream cut before its final usage), booked as an estimate.  ``server_tools`` counts
    billed server-side tool uses by kind (``{"web_search": 3}``).  ``lever`` names the
    lever that made this call when it is not the call that answered the app.
    """

    model: str
    provider: str
    usage: Usage
    usage_reported: bool = True
    usage_estimated: bool = False
    service_tier: str | None = None
    batch: bool = False
    server_tools: tuple[tuple[str, int], ...] = ()
    lever: Lever | None = None
    sent_model: str | None = None  # the name thrifty sent, if the upstream reported another
    at: float | None = None  # unix time of the call (prices can change by date)


def attach_lever_calls(exc: BaseException, calls: Sequence[Call]) -> None:
    """A lever that paid for calls and then fails (a cascade whose top tier errors, a
    client that leaves after the cheap try) hands them on with its exception, so the
    ledger books them in the failed request's row: what was spent is never lost."""
    if calls:
        earlier: Sequence[Call] = getattr(exc, "lever_calls", ())
        exc.lever_calls = [*calls, *earlier]  # type: ignore[attr-defined]


def lever_calls_of(exc: BaseException) -> list[Call]:
    """The calls levers attached to ``exc`` (:func:`attach_lever_calls`)."""
    calls = getattr(exc, "lever_calls", ())
    return [c for c in calls if isinstance(c, Call)] if isinstance(calls, list) else []


def new_request_id() -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: the Unix time in milliseconds, then 74
    random bits.  Time-ordered ids land at the end of the ledger's unique index on
    ``request_id`` instead of on a random page of it: a commit writes fewer pages (about
    a third less CPU a single-row commit, measured on SQLite with 30,000 rows)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    # The version (7) and variant (0b10) bits, in place of 6 of the random bits.
    value = value & ~(0xF << 76) & ~(0x3 << 62) | (0x7 << 76) | (0x2 << 62)
    return f"{value:032x}"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat call as it moves through the pipeline.

    ``body`` is the JSON body in ``dialect`` (OpenAI chat completions or Anthropic messages)
    and is what the provider sends, after ``model`` is written into it.  ``requested_model``
    is what the app asked for (with an alias resolved to its model); no lever changes it: it
    defines the baseline cost.
    """

    dialect: Dialect
    body: JSON
    model: str
    requested_model: str
    stream: bool = False
    # The API operation ``body`` is a request of (see :data:`Api`); ``dialect`` stays
    # "openai" for every non-chat operation.
    api: Api = "chat"
    task: str | None = None
    tenant: str | None = None
    endpoint: str = "library"  # gateway route, or "library" for in-process calls
    # Per-request lever controls (see ``thrifty.requests.CONTROL_HEADERS``): the gateway
    # fills them from request headers, library callers pass them directly.
    metadata: dict[str, str] = field(default_factory=dict)
    # Request headers the provider must forward (``anthropic-beta``, ``openai-beta``...).
    upstream_headers: tuple[tuple[str, str], ...] = ()
    request_id: str = field(default_factory=new_request_id)
    received_at: float = field(default_factory=time.time)
    # The name the app used when it was an alias (``model="cheap"``); ``requested_model``
    # is then what the alias resolved to.
    requested_alias: str | None = None


@dataclass(slots=True)
class ChatResponse:
    """The outcome of a call.

    Exactly one of ``body`` (a complete JSON response in ``dialect``) and ``stream`` is set,
    with one exception: an embeddings answer the gateway asked to pass on as it came has
    ``raw_body`` and no ``body`` until a stage needs it (:meth:`parsed_body`).
    ``stream`` yields batches: the events that arrived together in one upstream read (never
    empty), so the gateway writes them with one send and stages pay per read, not per token.
    For a stream, ``usage`` becomes final only when the iterator is exhausted;
    ``stream_complete`` is then ``True``.  A stream that ends early (client gone, upstream
    cut) leaves it ``False`` and must never be cached.
    """

    dialect: Dialect
    model: str
    provider: str
    usage: Usage = field(default_factory=Usage)
    # False when the upstream sent no usage (a server that ignores include_usage, a stream
    # cut before its usage event): the call is then booked unpriced, never as $0.
    usage_reported: bool = True
    # The request as the provider received it (after routing rewrote the model); the
    # ledger prices against it.  None: answered without a provider call.
    served: ChatRequest | None = None
    body: JSON | None = None
    stream: AsyncIterator[Sequence[StreamEvent]] | None = None
    stream_complete: bool = False
    steps: list[Step] = field(default_factory=list)
    cost: Cost | None = None
    baseline: Cost | None = None
    saved: Decimal | None = None  # baseline - cost, once priced; None: unknown
    upstream_latency_s: float | None = None
    # Facts about the answering call the price depends on (read by :meth:`answer_call`).
    usage_estimated: bool = False
    service_tier: str | None = None
    batch: bool = False
    server_tools: dict[str, int] = field(default_factory=dict)
    # Calls made by levers besides the one that answered (see :class:`Call`).
    lever_calls: list[Call] = field(default_factory=list)
    # Set when the stream failed after the app got HTTP 200 (an error event was sent).
    failure: str | None = None
    # The upstream's own request id (``x-request-id`` / ``request-id``), forwarded to the app.
    upstream_request_id: str | None = None
    # The answer was cut by its length limit, as the upstream said (OpenAI
    # ``finish_reason: "length"`` on any choice, Anthropic ``stop_reason: "max_tokens"``,
    # Responses ``incomplete`` for ``max_output_tokens``), set by the provider from the
    # body or, for a stream, from its final events; replays keep it.
    truncated: bool = False
    # What levers report to the app, sent by the gateway as ``x-thrifty-NAME: value``
    # (for example ``{"cache": "hit"}``).  Names are lower-case ASCII; values are short.
    headers: dict[str, str] = field(default_factory=dict)
    # The upstream's answer exactly as it arrived, while ``body`` is its parse (or not yet
    # parsed): the gateway writes these bytes as they are instead of serialising ``body``
    # again (an embeddings answer of floats is megabytes of JSON).  A stage that gives
    # ``body`` another value sets this to ``None``.
    raw_body: bytes | None = None

    def parsed_body(self) -> JSON | None:
        """``body``, parsed from ``raw_body`` on first use when the provider left it
        unparsed.  Stages that read an embeddings answer read it through this."""
        if self.body is None and self.raw_body is not None and self.stream is None:
            try:
                parsed = orjson.loads(self.raw_body)
            except orjson.JSONDecodeError:
                return None  # passed on to the app as it came; nothing here can read it
            self.body = parsed if isinstance(parsed, dict) else None
        return self.body

    def answer_call(self) -> Call | None:
        """The call that produced this answer, or ``None`` when no provider was called
        (answered from a cache, coalesced...)."""
        if self.served is None:
            return None
        return Call(
            model=self.model,
            provider=self.provider,
            usage=self.usage,
            usage_reported=self.usage_reported,
            usage_estimated=self.usage_estimated,
            service_tier=self.service_tier,
            batch=self.batch,
            server_tools=tuple(sorted(self.server_tools.items())),
            sent_model=self.served.model,
            at=self.served.received_at,
        )

    @property
    def calls(self) -> list[Call]:
        """Every upstream call this response cost: levers' calls, then the answer's."""
        answer = self.answer_call()
        return [*self.lever_calls, answer] if answer is not None else list(self.lever_calls)


Handler = Callable[[ChatRequest], Awaitable[ChatResponse]]
Stage = Callable[[Handler], Handler]
