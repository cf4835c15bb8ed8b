"""Reading a batch input file: each line checked before anything is uploaded.

Two line shapes are accepted, one per dialect:

* OpenAI batch lines: ``{"custom_id", "method": "POST", "url": "/v1/chat/completions",
  "body": {...chat completions body...}}``;
* Anthropic batch requests: ``{"custom_id", "params": {...messages body...}}``.

A bad line is kept out with its reason (:class:`BadLine`): not JSON, not one of the two
shapes, a missing or repeated ``custom_id``, an invalid body (the same checks as the
gateway's), a stream request, a model no configured provider serves or one served in the
other dialect, a request larger than its provider's batch file limit, or a line past the
submission's own bounds.  The good lines stay submittable on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from thrifty.batch.limits import LIMITS, MAX_SUBMISSION_BYTES, MAX_SUBMISSION_LINES
from thrifty.errors import ThriftyError
from thrifty.requests import pop_task, validate_body
from thrifty.types import JSON, ChatRequest, Dialect

CHAT_URL = "/v1/chat/completions"
MAX_CUSTOM_ID = 512  # characters; thrifty sends its own ids upstream
MAX_REASON = 300  # characters of a reason kept in a report

# model -> (provider name, its dialect), or None when no configured provider serves it
ProviderOf = Callable[[str], tuple[str, Dialect] | None]


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One valid request of a submission, in input order (``line`` is 1-based)."""

    line: int
    custom_id: str
    provider: str
    request: ChatRequest
    size: int  # bytes of the request body as it is sent

    @property
    def dialect(self) -> Dialect:
        return self.request.dialect

    @property
    def model(self) -> str:
        return self.request.model


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    custom_id: str | None
    reason: str

    def to_json(self) -> JSON:
        return {"line": self.line, "custom_id": self.custom_id, "reason": self.reason}


@dataclass(slots=True)
class ParsedInput:
    items: list[BatchItem] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)

    def report(self) -> str:
        """One line per rejected input line, naming it and why."""
        return "\n".join(
            f"line {b.line}" + (f" ({b.custom_id})" if b.custom_id else "") + f": {b.reason}"
            for b in self.bad
        )


class _Rejected(Exception):
    def __init__(self, reason: str, custom_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:MAX_REASON]
        self.custom_id = custom_id


def _shape(line: object) -> tuple[str, Dialect, object]:
    """(custom_id, dialect, body) of a line of either shape."""
    if not isinstance(line, dict):
        raise _Rejected("not a JSON object")
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not 0 < len(custom_id) <= MAX_CUSTOM_ID:
        raise _Rejected(f"custom_id must be a string of 1 to {MAX_CUSTOM_ID} characters")
    if "params" in line:
        return custom_id, "anthropic", line["params"]
    if "body" not in line:
        raise _Rejected("neither an OpenAI batch line (body) nor an Anthropic one (params)")
    if line.get("method", "POST") != "POST":
        raise _Rejected("method must be POST", custom_id)
    if line.get("url", CHAT_URL) != CHAT_URL:
        raise _Rejected(f"url must be {CHAT_URL} (chat completions only)", custom_id)
    return custom_id, "openai", line["body"]


def _item(number: int, raw: bytes, provider_of: ProviderOf, seen: set[str]) -> BatchItem:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _Rejected(f"malformed JSON: {exc}") from None
    custom_id, dialect, body = _shape(line)
    if custom_id in seen:
        raise _Rejected("duplicate custom_id", custom_id)
    try:
        valid, task = pop_task(validate_body(dialect, body))
    except ThriftyError as exc:
        raise _Rejected(f"invalid request: {exc.message}", custom_id) from None
    model = valid["model"]
    request = ChatRequest(
        dialect=dialect,
        body=valid,
        model=model,
        requested_model=model,
        stream=bool(valid.get("stream", False)),
        task=task,
        endpoint="batch",
        request_id=f"line-{number}",  # the line's own: a random id costs more than a check
    )
    if request.stream:
        raise _Rejected("stream is not supported in a batch", custom_id)
    served = provider_of(request.model)
    if served is None:
        raise _Rejected(f"unknown model {request.model[:64]!r}: no provider serves it", custom_id)
    provider, provider_dialect = served
    if provider_dialect != dialect:
        raise _Rejected(
            f"model {request.model!r} is served by {provider!r} in the {provider_dialect} "
            f"dialect; write this line in that shape",
            custom_id,
        )
    size = len(raw)  # the line holds the body: a bound on what is sent, at no cost
    limit = LIMITS[dialect]
    if size > limit.max_bytes:
        raise _Rejected(f"request of {size} bytes is over {limit.name}'s limit", custom_id)
    return BatchItem(number, custom_id, provider, request, size)


def parse_lines(lines: Iterable[bytes], provider_of: ProviderOf) -> ParsedInput:
    """Check every line; blank lines are skipped (their numbers still count)."""
    parsed = ParsedInput()
    seen: set[str] = set()
    total = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        total += len(raw)
        if len(parsed.items) >= MAX_SUBMISSION_LINES or total > MAX_SUBMISSION_BYTES:
            parsed.bad.append(BadLine(number, None, "past the submission's size limits"))
            continue
        try:
            item = _item(number, raw, provider_of, seen)
        except _Rejected as exc:
            parsed.bad.append(BadLine(number, exc.custom_id, exc.reason))
            continue
        seen.add(item.custom_id)
        parsed.items.append(item)
    return parsed
