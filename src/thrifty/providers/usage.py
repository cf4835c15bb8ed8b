"""Token usage normalisation at the provider boundary.

Every provider reports usage in its own shape; this module turns each into one
:class:`thrifty.types.Usage`, whose ``input_tokens`` counts *every* prompt token and whose
cache and reasoning counts are *subsets* of the totals.

Invariants, per wire dialect:

OpenAI chat completions (``usage`` object)
    * ``prompt_tokens`` INCLUDES ``prompt_tokens_details.cached_tokens``, so
      ``Usage.input_tokens = prompt_tokens`` and ``cache_read_tokens = cached_tokens``.
    * ``completion_tokens`` INCLUDES ``completion_tokens_details.reasoning_tokens``, so
      ``Usage.output_tokens = completion_tokens`` and ``reasoning_tokens`` is that detail.
    * Missing or ``null`` details count as 0.  Cache writes are not read: the newer
      ``prompt_tokens_details.cache_write_tokens`` field is undocumented for chat
      completions pricing, so those tokens stay at the plain input rate.
    * Streaming: usage arrives in the final chunk (``choices == []``) when the request set
      ``stream_options.include_usage``.  Some OpenAI-compatible servers repeat the
      *cumulative* usage on every chunk: the LAST report wins, reports are never summed.

OpenAI Responses API (``usage`` object of a ``response``, in a JSON answer or in the
stream's terminal ``response.completed`` / ``response.incomplete`` event)
    * ``input_tokens`` INCLUDES ``input_tokens_details.cached_tokens`` and
      ``output_tokens`` INCLUDES ``output_tokens_details.reasoning_tokens``: the same
      convention as chat completions under other names.
    * ``input_tokens_details.cache_write_tokens`` (and its TTL breakdown) is not read:
      as for chat completions, those tokens stay at the plain input rate.
    * Server tools report no count: each ``web_search_call`` (``file_search_call``) item
      of the response's ``output`` is one billed call (:func:`responses_server_tools`).

OpenAI embeddings and legacy completions use the chat-completions ``usage`` shape
(embeddings: ``prompt_tokens`` only).

Anthropic messages (``usage`` object)
    * ``input_tokens`` EXCLUDES ``cache_read_input_tokens`` and
      ``cache_creation_input_tokens``, so
      ``Usage.input_tokens = input_tokens + cache_read + cache_creation``.
    * Cache writes are split by ``cache_creation.ephemeral_5m_input_tokens`` /
      ``ephemeral_1h_input_tokens`` when that breakdown is present; otherwise every
      creation token is a 5-minute write.  A breakdown that disagrees with the total is
      trusted for the 1-hour part only (capped at the total); the rest is 5-minute.
    * ``output_tokens_details.thinking_tokens`` (when present) is the reasoning part of
      ``output_tokens``.
    * Streaming: ``message_start`` carries input, cache and an initial ``output_tokens``;
      each ``message_delta`` carries CUMULATIVE ``output_tokens`` and may repeat the input
      and cache fields.  The latest value of each field wins; nothing is added up.

Billing facts besides the token counts (read by the same helpers):

Service tier (:func:`service_tier`)
    The tier the RESPONSE says it was served (and billed) on, lower-cased; ``None`` when
    absent.  OpenAI: the top-level ``service_tier`` of a completion and of every stream
    chunk (``"default"``, ``"priority"``, ``"flex"``, ``"scale"``); the request's
    ``service_tier`` is only a wish (``"auto"`` resolves to one of those).  Anthropic:
    ``usage.service_tier`` (``"standard"``, ``"priority"``, ``"batch"``), in a Message and
    in a stream's ``message_start`` (and ``message_delta`` when it repeats it).

Server-side tools (:func:`server_tools_from_anthropic`, :func:`openai_server_tools`)
    Anthropic counts billed server tool uses in ``usage.server_tool_use``:
    ``web_search_requests`` -> ``{"web_search": n}``, ``web_fetch_requests`` ->
    ``{"web_fetch": n}`` (any ``<kind>_requests`` count becomes ``<kind>``; zeros are
    left out).  In a stream the cumulative count is in ``message_delta``'s usage.
    OpenAI chat completions report no count: its search models
    (``gpt-4o-search-preview``, ``gpt-4o-mini-search-preview``, ``gpt-5-search-api`` and
    their dated snapshots) search the web once for every request, ``web_search_options``
    or not ("When using Chat Completions, the model always retrieves information from the
    web before responding to your query": OpenAI's web search guide, Chat Completions
    tab; the pricing page bills these models per web search call).  So a successful call
    to a search model counts ``{"web_search": 1}``; its ``url_citation`` annotations are
    the visible trace of that search, not a count of searches.

The two regressions these rules exist for: cache reads billed as full input (the cache
count not split out) and cache tokens counted twice (added on top of a total that already
includes them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thrifty.types import Usage

__all__ = [
    "AnthropicStreamUsage",
    "OpenAIStreamUsage",
    "is_openai_search_model",
    "openai_server_tools",
    "responses_server_tools",
    "server_tools_from_anthropic",
    "service_tier",
    "usage_from_anthropic",
    "usage_from_openai",
    "usage_from_responses",
]


def _int(value: Any) -> int:
    """A token count from the wire: ``None``, missing or garbage count as 0."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, float) and value > 0:
        return int(value)
    return 0


def _detail(u: Mapping[str, Any], group: str, key: str) -> int:
    details = u.get(group)
    if isinstance(details, Mapping):
        return _int(details.get(key))
    return 0


def service_tier(value: Any) -> str | None:
    """A reported service tier, normalised to lower case; ``None`` when absent or not a
    non-empty string."""
    if isinstance(value, str):
        tier = value.strip().lower()
        return tier or None
    return None


def server_tools_from_anthropic(u: Mapping[str, Any]) -> dict[str, int]:
    """Billed server tool uses from an Anthropic ``usage`` object's ``server_tool_use``:
    ``{"web_search_requests": 3}`` -> ``{"web_search": 3}``."""
    uses = u.get("server_tool_use")
    if not isinstance(uses, Mapping):
        return {}
    tools: dict[str, int] = {}
    for key, value in uses.items():
        if isinstance(key, str) and key.endswith("_requests") and len(key) > 9:
            n = _int(value)
            if n:
                tools[key[:-9]] = n
    return tools


_OPENAI_SEARCH_MARKERS = ("-search-preview", "-search-api")


def is_openai_search_model(model: str) -> bool:
    """An OpenAI chat-completions search model (``gpt-4o-search-preview``,
    ``gpt-4o-mini-search-preview``, ``gpt-5-search-api``, dated snapshots, or the same
    names behind a ``provider/`` prefix)."""
    return any(marker in model for marker in _OPENAI_SEARCH_MARKERS)


def openai_server_tools(*models: str | None) -> dict[str, int]:
    """Server tools billed for one successful OpenAI chat completion answered by (any of)
    ``models``: one web search when it is a search model, else nothing."""
    for model in models:
        if model and is_openai_search_model(model):
            return {"web_search": 1}
    return {}


def _openai_style(u: Mapping[str, Any], prompt: str, output: str) -> Usage:
    """Usage whose ``{prompt}_tokens`` includes ``{prompt}_tokens_details.cached_tokens``
    and whose ``{output}_tokens`` includes ``{output}_tokens_details.reasoning_tokens``."""
    total_in = _int(u.get(f"{prompt}_tokens"))
    total_out = _int(u.get(f"{output}_tokens"))
    cached = _detail(u, f"{prompt}_tokens_details", "cached_tokens")
    reasoning = _detail(u, f"{output}_tokens_details", "reasoning_tokens")
    return Usage(
        input_tokens=total_in,
        output_tokens=total_out,
        # A server that reports more cached (or reasoning) tokens than the total it says
        # it saw is wrong about one of them; never let that break Usage's invariants.
        cache_read_tokens=min(cached, total_in),
        reasoning_tokens=min(reasoning, total_out),
    )


def usage_from_openai(u: Mapping[str, Any]) -> Usage:
    """Normalise an OpenAI chat-completions ``usage`` object (also embeddings' and legacy
    completions')."""
    return _openai_style(u, "prompt", "completion")


def usage_from_responses(u: Mapping[str, Any]) -> Usage:
    """Normalise an OpenAI Responses API ``usage`` object."""
    return _openai_style(u, "input", "output")


# Output item types of a Responses API answer that are billed server tool calls.
_RESPONSES_TOOL_ITEMS = {"web_search_call": "web_search", "file_search_call": "file_search"}


def responses_server_tools(output: Any) -> dict[str, int]:
    """Billed server tool calls of a Responses API answer, from its ``output`` items:
    ``{"web_search": 2}`` for two ``web_search_call`` items."""
    tools: dict[str, int] = {}
    if not isinstance(output, list):
        return tools
    for item in output:
        kind = item.get("type") if isinstance(item, Mapping) else None
        tool = _RESPONSES_TOOL_ITEMS.get(kind) if isinstance(kind, str) else None
        if tool is not None:
            tools[tool] = tools.get(tool, 0) + 1
    return tools


def _anthropic_usage(
    uncached: int,
    read: int,
    creation: int,
    w1h: int,
    output: int,
    thinking: int,
) -> Usage:
    # Only the 1-hour part needs the breakdown: every other creation token is a 5m write.
    write_1h = min(w1h, creation)
    return Usage(
        input_tokens=uncached + read + creation,
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_5m_tokens=creation - write_1h,
        cache_write_1h_tokens=write_1h,
        reasoning_tokens=min(thinking, output),
    )


def _write_1h(u: Mapping[str, Any]) -> int | None:
    """``cache_creation.ephemeral_1h_input_tokens``, or ``None`` without a breakdown."""
    cc = u.get("cache_creation")
    if isinstance(cc, Mapping):
        return _int(cc.get("ephemeral_1h_input_tokens"))
    return None


def usage_from_anthropic(u: Mapping[str, Any]) -> Usage:
    """Normalise an Anthropic messages ``usage`` object."""
    return _anthropic_usage(
        _int(u.get("input_tokens")),
        _int(u.get("cache_read_input_tokens")),
        _int(u.get("cache_creation_input_tokens")),
        _write_1h(u) or 0,
        _int(u.get("output_tokens")),
        _detail(u, "output_tokens_details", "thinking_tokens"),
    )


class OpenAIStreamUsage:
    """Usage of an OpenAI chat-completions stream.  Feed it every chunk (parsed JSON);
    the last ``usage`` report wins."""

    __slots__ = ("seen", "service_tier", "usage")

    def __init__(self) -> None:
        self.usage = Usage()
        self.seen = False  # a usage report arrived
        self.service_tier: str | None = None  # the latest chunk's top-level service_tier

    def feed(self, chunk: Mapping[str, Any]) -> bool:
        """Take one chunk; return ``True`` when it carried usage.  Also notes the chunk's
        ``service_tier``."""
        tier = chunk.get("service_tier")
        if tier is not None:
            self.service_tier = service_tier(tier)
        u = chunk.get("usage")
        if not isinstance(u, Mapping):
            return False
        self.usage = usage_from_openai(u)
        self.seen = True
        return True


class AnthropicStreamUsage:
    """Usage of an Anthropic messages stream.  Feed it every event payload (parsed JSON);
    ``message_start`` and ``message_delta`` update it, the latest value of each field
    wins.  ``final`` turns True with the first ``message_delta`` usage (the cumulative
    output count); before it, ``output_tokens`` is message_start's placeholder."""

    __slots__ = (
        "_1h",
        "_creation",
        "_input",
        "_output",
        "_read",
        "_thinking",
        "final",
        "server_tools",
        "service_tier",
        "started",
        "usage",
    )

    def __init__(self) -> None:
        self.final = False
        self.started = False  # message_start's usage arrived
        self.service_tier: str | None = None
        self.server_tools: dict[str, int] = {}
        self._input = 0
        self._read = 0
        self._creation = 0
        self._1h = 0
        self._output = 0
        self._thinking = 0
        self.usage = Usage()

    def feed(self, event: Mapping[str, Any]) -> bool:
        """Take one event payload; return ``True`` when it carried usage."""
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            u = message.get("usage") if isinstance(message, Mapping) else None
        elif kind == "message_delta":
            u = event.get("usage")
        else:
            return False
        if not isinstance(u, Mapping):
            return False
        if kind == "message_delta":
            self.final = True
        else:
            self.started = True
        tier = u.get("service_tier")
        if tier is not None:
            self.service_tier = service_tier(tier)
        if u.get("server_tool_use") is not None:
            self.server_tools = server_tools_from_anthropic(u)
        # Latest value wins, field by field: a message_delta that omits (or nulls) the
        # cache fields keeps what message_start said.
        if u.get("input_tokens") is not None:
            self._input = _int(u["input_tokens"])
        if u.get("cache_read_input_tokens") is not None:
            self._read = _int(u["cache_read_input_tokens"])
        if u.get("cache_creation_input_tokens") is not None:
            self._creation = _int(u["cache_creation_input_tokens"])
        w1h = _write_1h(u)
        if w1h is not None:
            self._1h = w1h
        if u.get("output_tokens") is not None:
            self._output = _int(u["output_tokens"])
        thinking = _detail(u, "output_tokens_details", "thinking_tokens")
        if thinking:
            self._thinking = thinking
        self.usage = _anthropic_usage(
            self._input,
            self._read,
            self._creation,
            self._1h,
            self._output,
            self._thinking,
        )
        return True
