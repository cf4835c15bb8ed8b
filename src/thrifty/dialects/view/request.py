""":class:`RequestView`: the lazy read view of one request, its cache key, and the edits
that return new requests in the request's own dialect."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

from thrifty.dialects.view.cache_key import (
    CACHE_KEY_VERSION,
    _canon_content,
    _canon_message,
    _canon_params,
    _canon_tool,
    _digest,
    _Ids,
    _stop_list,
)
from thrifty.dialects.view.turns import (
    _SYSTEM_ROLES,
    Part,
    Tool,
    Turn,
    _content_parts,
    _read_tool,
    _read_turn,
)
from thrifty.dialects.view.writing import _write_anthropic, _write_openai
from thrifty.types import JSON, ChatRequest, Dialect

# Sampling parameters, by their neutral name (``stop`` for both dialects).
_SAMPLING = (
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "seed",
    "n",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "verbosity",
    "thinking",
)


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


# -- the view ------------------------------------------------------------------------------


class RequestView:
    """A read view of one request in either dialect, and edits that return new requests.

    Fields are computed lazily on first access; the view holds the request, never a copy
    of its body.
    """

    def __init__(self, request: ChatRequest) -> None:
        self.request = request

    @classmethod
    def of(cls, request: ChatRequest) -> RequestView:
        return cls(request)

    @property
    def dialect(self) -> Dialect:
        return self.request.dialect

    @property
    def body(self) -> JSON:
        return self.request.body

    # -- reading --------------------------------------------------------------------------

    @cached_property
    def _wire_messages(self) -> list[Any]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @cached_property
    def _all_turns(self) -> tuple[Turn, ...]:
        """Every wire message as a turn, OpenAI system/developer messages included."""
        dialect = self.dialect
        return tuple(_read_turn(m, dialect) for m in self._wire_messages)

    @cached_property
    def messages(self) -> tuple[Turn, ...]:
        """The conversation, in order, without the system prompt."""
        return tuple(t for t in self._all_turns if t.role not in _SYSTEM_ROLES)

    @cached_property
    def system_parts(self) -> tuple[Part, ...]:
        """The system prompt as parts: every OpenAI system/developer message's parts, in
        order; Anthropic's top-level ``system`` (a string or blocks)."""
        if self.dialect == "openai":
            return tuple(p for t in self._all_turns if t.role in _SYSTEM_ROLES for p in t.parts)
        return _content_parts(self.body.get("system"))

    @cached_property
    def system(self) -> str | None:
        """The system prompt's text (its text parts joined by newlines), or ``None`` when
        the request has no system prompt."""
        texts = [p.text for p in self.system_parts if p.kind == "text"]
        return "\n".join(texts) if texts else None

    @cached_property
    def tools(self) -> tuple[Tool, ...]:
        tools = self.body.get("tools")
        if not isinstance(tools, list):
            return ()
        dialect = self.dialect
        return tuple(_read_tool(t, dialect) for t in tools)

    @property
    def max_output_tokens(self) -> int | None:
        """OpenAI ``max_completion_tokens`` (else ``max_tokens``); Anthropic ``max_tokens``."""
        body = self.body
        if self.dialect == "openai":
            found = _int(body.get("max_completion_tokens"))
            return found if found is not None else _int(body.get("max_tokens"))
        return _int(body.get("max_tokens"))

    @cached_property
    def sampling(self) -> JSON:
        """The sampling parameters the request sets (``None`` values left out), by neutral
        name: ``temperature``, ``top_p``, ``top_k``, ``stop`` (OpenAI ``stop``, Anthropic
        ``stop_sequences``; always a list), ``seed``, ``n``, ``frequency_penalty``,
        ``presence_penalty``, ``logit_bias``, ``logprobs``, ``top_logprobs``,
        ``reasoning_effort``, ``verbosity``, ``thinking``."""
        body = self.body
        out: JSON = {}
        for name in _SAMPLING:
            wire = "stop_sequences" if name == "stop" and self.dialect == "anthropic" else name
            value = body.get(wire)
            if value is not None:
                out[name] = _stop_list(value) if name == "stop" else value
        return out

    @property
    def stop(self) -> list[Any]:
        stop = self.sampling.get("stop")
        return list(stop) if isinstance(stop, list) else []

    @property
    def response_format(self) -> Any:
        """OpenAI ``response_format``; Anthropic ``output_format``, else
        ``output_config.format``.  ``None`` when unset."""
        body = self.body
        if self.dialect == "openai":
            return body.get("response_format")
        if body.get("output_format") is not None:
            return body["output_format"]
        config = body.get("output_config")
        return config.get("format") if isinstance(config, dict) else None

    @property
    def stream(self) -> bool:
        return self.request.stream

    # -- the cache key --------------------------------------------------------------------

    def canonical(self) -> JSON:
        """The canonical form :meth:`cache_key` hashes (see docs/architecture.md)."""
        ids = _Ids()
        request = self.request
        body = self.body
        dialect = request.dialect
        anthropic = dialect == "anthropic"
        canonical: JSON = {"v": CACHE_KEY_VERSION, "dialect": dialect, "model": request.model}
        if request.api != "chat":
            # Another API operation (its body has no messages: its fields are parameters
            # of the key, ``input`` or ``prompt`` included); never the key of a chat call.
            canonical["api"] = request.api
        if anthropic:  # canonicalised first: it comes first in the prompt (ids in order)
            canonical["system"] = _canon_content(body.get("system"), ids, anthropic)
        messages = body.get("messages")
        if isinstance(messages, list):
            # OpenAI system messages keep their place in the conversation.
            canonical["messages"] = [_canon_message(m, ids, anthropic) for m in messages]
        else:
            canonical["messages"] = ["other", messages]
        tools = body.get("tools")
        if isinstance(tools, list):
            canonical["tools"] = [_canon_tool(t, dialect) for t in tools]
        elif tools is not None:
            canonical["tools"] = ["other", tools]
        canonical["params"] = _canon_params(body, dialect)
        if request.upstream_headers:
            canonical["headers"] = sorted(request.upstream_headers)
        return canonical

    def cache_key(self) -> str:
        """A stable hex digest (SHA-256) of :meth:`canonical`: requests with the
        same meaning share it, whatever their key order or spelling."""
        cached: str | None = self.__dict__.get("_cache_key")
        if cached is None:
            cached = _digest(self.canonical())
            self.__dict__["_cache_key"] = cached
        return cached

    # -- edits ----------------------------------------------------------------------------

    def _edited(self, changes: Mapping[str, Any], drop: Iterable[str] = ()) -> ChatRequest:
        body = self.body
        drop = [k for k in drop if k in body]
        if not drop and all(k in body and body[k] is v for k, v in changes.items()):
            return self.request
        new = {k: v for k, v in body.items() if k not in drop}
        new.update(changes)
        return dataclasses.replace(self.request, body=new)

    def with_max_output_tokens(self, n: int) -> ChatRequest:
        """Cap the output at ``n`` tokens.  Anthropic: ``max_tokens``.  OpenAI: the field
        the app used (both, when it sent both), ``max_completion_tokens`` by default."""
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"max output tokens must be a positive integer, not {n!r}")
        body = self.body
        if self.dialect == "anthropic":
            fields = ["max_tokens"]
        else:
            fields = [f for f in ("max_completion_tokens", "max_tokens") if f in body]
            fields = fields or ["max_completion_tokens"]
        if all(body.get(f) == n and type(body.get(f)) is int for f in fields):
            return self.request
        return self._edited(dict.fromkeys(fields, n))

    def with_stop(self, sequences: str | Sequence[str]) -> ChatRequest:
        """Set the stop sequences (OpenAI ``stop``, Anthropic ``stop_sequences``, written as
        a list); an empty sequence removes them."""
        new = [sequences] if isinstance(sequences, str) else list(sequences)
        field = "stop" if self.dialect == "openai" else "stop_sequences"
        if not new:
            return self._edited({}, drop=[field])
        if self.body.get(field) == new:
            return self.request
        return self._edited({field: new})

    def with_system(self, text: str | None) -> ChatRequest:
        """Replace the system prompt (``None`` or ``""`` removes it).

        OpenAI: every system/developer message is removed and one message with ``text`` is
        put first, with the role the app used (``system`` by default).  Anthropic: a string,
        or, when the app sent blocks, one text block that keeps the last block's
        ``cache_control`` (so a prompt-cache breakpoint is not silently lost)."""
        parts = self.system_parts
        if not text and not parts:
            return self.request
        if text and len(parts) == 1 and parts[0].kind == "text" and parts[0].text == text:
            return self.request
        if self.dialect == "anthropic":
            if not text:
                return self._edited({}, drop=["system"])
            old = self.body.get("system")
            if isinstance(old, list):
                block: JSON = {"type": "text", "text": text}
                last = old[-1] if old else None
                if isinstance(last, dict) and "cache_control" in last:
                    block["cache_control"] = last["cache_control"]
                return self._edited({"system": [block]})
            return self._edited({"system": text})
        role = next((t.role for t in self._all_turns if t.role in _SYSTEM_ROLES), "system")
        rest = [m for m, t in zip(self._wire_messages, self._all_turns, strict=True)]
        rest = [
            m for m, t in zip(rest, self._all_turns, strict=True) if t.role not in _SYSTEM_ROLES
        ]
        head = [{"role": role, "content": text}] if text else []
        return self._edited({"messages": head + rest})

    def with_messages(self, turns: Iterable[Turn]) -> ChatRequest:
        """Replace the conversation, written in the request's dialect; the system prompt is
        kept (OpenAI: every system/developer message, unchanged, first).  Unchanged turns
        read from this request are written back as their original objects; a turn built or
        changed in code is written in the dialect's plain form (see docs/architecture.md)."""
        turns = tuple(turns)
        if turns == self.messages:
            return self.request
        if self.dialect == "openai":
            system = [
                m
                for m, t in zip(self._wire_messages, self._all_turns, strict=True)
                if t.role in _SYSTEM_ROLES
            ]
            return self._edited({"messages": system + _write_openai(turns)})
        return self._edited({"messages": _write_anthropic(turns)})

    def __repr__(self) -> str:
        return f"RequestView({self.dialect}, model={self.request.model!r})"
