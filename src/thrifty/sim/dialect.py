"""What the app needs from a wire dialect (OpenAI chat completions, Anthropic messages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from thrifty.sim.cache import AnthropicPromptCache, OpenAIPrefixCache
from thrifty.sim.tokens import Answer

JSONObj = dict[str, Any]


class BadRequest(Exception):
    """The request body is invalid; carries the dialect-neutral parts of the 400 body."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(slots=True)
class Caches:
    openai: OpenAIPrefixCache
    anthropic: AnthropicPromptCache


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated request, reduced to what answering it needs."""

    model: str
    stream: bool
    include_usage: bool
    max_tokens: int | None
    last_user_text: str
    seed: bytes  # identity of the conversation: same seed -> same answer
    body: JSONObj
    prompt: Any  # the dialect's tokenized prompt (token pieces, or cache blocks)
    # A Responses API background request: answered at once, its work "runs" for run_s.
    background: bool = False
    run_s: float = 0.0


@dataclass(frozen=True, slots=True)
class PromptUsage:
    """Prompt-side usage, in neutral form: ``total`` counts every prompt token."""

    total: int
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0


@dataclass(frozen=True, slots=True)
class StreamParts:
    """A streamed answer as SSE events: ``head`` (before content), one event per content
    delta, then ``tail`` (finish, usage, end-of-stream)."""

    head: list[bytes]
    deltas: list[bytes]
    tail: list[bytes]


class Dialect(Protocol):
    name: str

    def prepare(self, body: object) -> Prepared:
        """Validate a parsed JSON body; raise :class:`BadRequest` when invalid."""
        ...

    def prompt_usage(self, prep: Prepared, caches: Caches) -> PromptUsage:
        """Count prompt tokens and consult (and update) the prompt cache."""
        ...

    def response(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> bytes: ...

    def stream_events(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> StreamParts: ...

    def error(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> bytes:
        """The dialect's JSON error body for ``status``."""
        ...

    def auth_error(self) -> bytes:
        """The 401 body for a rejected API key."""
        ...

    def fault_error(self, status: int) -> bytes:
        """The error body of an injected 429/500/503/529."""
        ...

    def request_id_header(self) -> tuple[bytes, bytes]: ...
