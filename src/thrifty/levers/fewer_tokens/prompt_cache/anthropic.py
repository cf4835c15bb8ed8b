"""Anthropic: where to put ``cache_control`` breakpoints, and with which lifetime.

The prompt is cached in the order the API renders it: tools, system, messages.  Four
candidate breakpoints, each with its own prefix hash in the :class:`ReuseTracker`:

* ``tools``: the last tool (a tool set shared by several system prompts);
* ``system``: the last system block (tools + system: the usual stable prefix).  A volatile
  line (a date) is moved into a second system block after the breakpoint;
* ``examples``: the last block of the message before the last one (few-shot examples and
  earlier turns that repeat across requests);
* ``conversation``: the last block of the last message, when the conversation goes on (the
  previous request's whole prompt is this one's prefix, seen less than 5 minutes ago): the
  next turn reads it.

A candidate is placed when its prefix reaches the model's minimum cacheable length (the
token count is an approximation for Claude models, so 90% of the minimum is enough: a
breakpoint below the minimum is ignored by the API at no cost) and :func:`choose_ttl` says
it pays.  A longer lifetime must come first in the prompt, so an earlier breakpoint is
raised to 1h when a later one is 1h.  Nothing is placed when the app placed any
``cache_control`` itself (top-level or on any block): thrifty respects its plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from thrifty.levers.fewer_tokens.prompt_cache.prefix import (
    PrefixKey,
    ToolForms,
    chain,
    chain_json,
    json_bytes,
)
from thrifty.levers.fewer_tokens.prompt_cache.reuse import (
    ReuseTracker,
    Ttl,
    TtlPolicy,
    choose_ttl,
)
from thrifty.levers.fewer_tokens.prompt_cache.volatile import VolatileSplits
from thrifty.tokens import TokenCounter
from thrifty.types import JSON

MAX_BREAKPOINTS = 4
MIN_SHARE_OF_MINIMUM = 0.9
_CONVERSATION_GAP_S = 300.0
# Blocks that may carry cache_control (thinking blocks and empty text may not).
_CACHEABLE_BLOCKS = frozenset(
    {"text", "image", "document", "tool_use", "tool_result", "search_result"}
)


def minimum_cacheable_tokens(model: str) -> int:
    """The smallest prefix Anthropic caches for ``model`` (its prompt-caching docs)."""
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith(("claude-opus-4-5", "claude-opus-4-6", "claude-haiku-4-5")):
        return 4096
    if name.startswith(("claude-3-haiku", "claude-3-5-haiku", "claude-haiku-3")):
        return 2048
    return 1024


def app_placed_breakpoints(body: Mapping[str, Any]) -> bool:
    """Did the app ask for caching itself (top-level or on any tool, system or message
    block)?"""
    if "cache_control" in body:
        return True
    for tool in _dicts(body.get("tools")):
        if "cache_control" in tool:
            return True
    for block in _dicts(body.get("system")):
        if "cache_control" in block:
            return True
    for message in _dicts(body.get("messages")):
        for block in _dicts(message.get("content")):
            if "cache_control" in block:
                return True
    return False


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def readable(body: Mapping[str, Any]) -> bool:
    """A body the planner may edit: messages as objects with a role and string or
    block-list content, system a string or text blocks, tools objects."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return False
        content = message.get("content")
        if isinstance(content, list):
            if not content or not all(isinstance(b, dict) for b in content):
                return False
        elif not isinstance(content, str):
            return False
    system = body.get("system")
    text_blocks = isinstance(system, list) and all(
        isinstance(b, dict) and b.get("type") == "text" for b in system
    )
    if system is not None and not isinstance(system, str) and not text_blocks:
        return False
    tools = body.get("tools")
    return tools is None or (isinstance(tools, list) and all(isinstance(t, dict) for t in tools))


def _control(ttl: Ttl) -> JSON:
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": "1h"}


@dataclass(slots=True)
class AnthropicPlan:
    body: JSON  # the body to send (the original one when nothing changed)
    breakpoints: list[tuple[str, Ttl]] = field(default_factory=list)
    stable_key: PrefixKey = 0  # hash of model + tools + system (for the churn check)
    moved_volatile: bool = False
    reordered_tools: bool = False


@dataclass(slots=True)
class _Candidate:
    name: str
    key: PrefixKey
    tokens: int
    ttl: Ttl | None = None


class AnthropicPlanner:
    def __init__(
        self,
        tracker: ReuseTracker,
        tools: ToolForms,
        counter: TokenCounter,
        splits: VolatileSplits | None = None,
    ) -> None:
        self._tracker = tracker
        self._tools = tools
        self._counter = counter
        self._split = splits if splits is not None else VolatileSplits()

    def plan(
        self,
        body: JSON,
        model: str,
        now: float,
        policy: TtlPolicy,
        minimum: int,
        move_volatile: bool,
    ) -> AnthropicPlan:
        new: JSON = dict(body)
        plan = AnthropicPlan(body=new)
        tools: list[Any] = list(body.get("tools") or [])
        tools_json = b"[]"  # json_bytes([])
        if tools:
            stable_tools, tools_json = self._tools.stable_json(tools)
            plan.reordered_tools = stable_tools is not tools
            tools = list(stable_tools)
        system = self._system_blocks(body.get("system"), move_volatile, plan)
        messages: list[Any] = list(body["messages"])
        count = self._tokens_of(model)
        threshold = math.ceil(minimum * MIN_SHARE_OF_MINIMUM)
        stable_system = system[:1] if plan.moved_volatile else system
        # Tools and system serialised once each: for the prefix hashes and their counts.
        system_json = json_bytes(stable_system)
        at_tools = chain_json(chain("anthropic", model), tools_json)
        at_system = chain_json(at_tools, system_json)
        plan.stable_key = at_system
        segments: dict[PrefixKey, tuple[int, bool]] = {}
        tools_tokens = 0
        if tools:
            segments[at_tools] = self._at_least(at_tools, tools_json, threshold, model)
            tools_tokens = segments[at_tools][0]
        system_tokens = tools_tokens
        if stable_system:
            needed = threshold - tools_tokens
            segments[at_system] = self._at_least(at_system, system_json, needed, model)
            system_tokens += segments[at_system][0]
        candidates: list[_Candidate] = []
        if tools and system:
            candidates.append(_Candidate("tools", at_tools, tools_tokens))
        if system or tools:
            candidates.append(_Candidate("system", at_system, system_tokens))
        key = at_system
        keys: list[PrefixKey] = []
        for message in messages:
            key = chain(key, message)
            keys.append(key)
        if system_tokens >= threshold:
            # Every prefix below holds tools and system: long enough, no need to count.
            through_last = earlier = system_tokens
        else:
            through_last = system_tokens + count(messages)
            earlier = through_last - count(messages[-1:])
        if len(messages) >= 2:
            candidates.append(_Candidate("examples", keys[-2], earlier))
        for candidate in candidates:
            before, after = self._tracker.observe(candidate.key, now)
            if candidate.key in segments:
                after.segment_tokens, after.segment_exact = segments[candidate.key]
            if candidate.tokens >= threshold:
                candidate.ttl = choose_ttl(before, after, now, policy)
        self._tracker.observe(keys[-1], now)
        previous = self._tracker.get(keys[-3]) if len(keys) >= 3 else None
        if (
            previous is not None
            and now - previous.last_seen <= _CONVERSATION_GAP_S
            and through_last >= threshold
        ):
            candidates.append(_Candidate("conversation", keys[-1], through_last, "5m"))
        chosen = [c for c in candidates if c.ttl is not None][-MAX_BREAKPOINTS:]
        if any(c.ttl == "1h" for c in chosen):  # 1h entries must come before 5m ones
            last_1h = max(i for i, c in enumerate(chosen) if c.ttl == "1h")
            for c in chosen[:last_1h]:
                c.ttl = "1h"
        system_marked = False
        for c in chosen:
            assert c.ttl is not None
            if self._place(c, tools, system, messages, plan.moved_volatile):
                self._tracker.cached(c.key, now, c.ttl)
                plan.breakpoints.append((c.name, c.ttl))
                system_marked = system_marked or (c.name == "system" and bool(system))
        if not plan.breakpoints:
            plan.moved_volatile = False  # moving a line pays only with a breakpoint
            if not plan.reordered_tools:
                plan.body = body  # nothing worth changing: the app's body, untouched
                return plan
        if tools:
            new["tools"] = tools
        if system_marked or plan.moved_volatile:
            new["system"] = system
        new["messages"] = messages
        return plan

    def _at_least(
        self, key: PrefixKey, segment_json: bytes, needed: int, model: str
    ) -> tuple[int, bool]:
        """(the tokens a segment, tools or system blocks as :func:`json_bytes`, adds to the
        prefix that ``key`` ends, whether that is the count): a proven lower bound when it
        is ``needed`` or more, since the only question asked is whether the prefix reaches
        the minimum.  Remembered by the tracker."""
        seen = self._tracker.get(key)
        known = None if seen is None else seen.segment_tokens
        if seen is not None and known is not None and (seen.segment_exact or known >= needed):
            return known, seen.segment_exact
        text = segment_json.decode()  # the countable text: its JSON, close enough
        tokens = self._counter.least_text(model, text, enough=needed)
        if tokens >= needed:
            return tokens, False
        return self._counter.count_text(model, text).tokens, True

    def _tokens_of(self, model: str) -> Callable[[Any], int]:
        counter = self._counter

        def count(value: Any) -> int:
            if (
                isinstance(value, list)
                and value
                and isinstance(value[0], Mapping)
                and ("role" in value[0])
            ):
                return counter.count_messages(model, value).tokens
            return counter.count_text(model, _text_of(value)).tokens

        return count

    def _system_blocks(self, system: Any, move_volatile: bool, plan: AnthropicPlan) -> list[Any]:
        if system is None or system == "" or system == []:
            return []
        if isinstance(system, str):
            blocks: list[Any] = [{"type": "text", "text": system}]
        else:
            blocks = list(system)
        if move_volatile and len(blocks) == 1 and isinstance(blocks[0].get("text"), str):
            split = self._split(blocks[0]["text"])
            if split is not None:
                plan.moved_volatile = True
                first = {**blocks[0], "text": split.stable}
                return [first, {"type": "text", "text": split.volatile}]
        return blocks

    def _place(
        self,
        candidate: _Candidate,
        tools: list[Any],
        system: list[Any],
        messages: list[Any],
        moved: bool,
    ) -> bool:
        control = _control(candidate.ttl or "5m")
        if candidate.name == "tools" or (candidate.name == "system" and not system):
            tools[-1] = {**tools[-1], "cache_control": control}
            return True
        if candidate.name == "system":
            at = 0 if moved else len(system) - 1
            if not system[at].get("text"):
                return False
            system[at] = {**system[at], "cache_control": control}
            return True
        index = len(messages) - (2 if candidate.name == "examples" else 1)
        marked = _with_breakpoint(messages[index], control)
        if marked is None:
            return False
        messages[index] = marked
        return True


def _with_breakpoint(message: Mapping[str, Any], control: JSON) -> JSON | None:
    """``message`` with ``control`` on its last block that may carry one (a new message;
    ``None`` when no block may)."""
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            return None
        return {**message, "content": [{"type": "text", "text": content, "cache_control": control}]}
    blocks = list(content) if isinstance(content, list) else []
    for index in range(len(blocks) - 1, -1, -1):
        block = blocks[index]
        kind = block.get("type")
        if kind in _CACHEABLE_BLOCKS and not (kind == "text" and not block.get("text")):
            blocks[index] = {**block, "cache_control": control}
            return {**message, "content": blocks}
    return None


def _text_of(value: Any) -> str:
    """The countable text of tools or system blocks (their JSON: close enough for a
    threshold)."""
    return json_bytes(value).decode()
