"""OpenAI: its cache is automatic (the longest previously seen prefix of 1,024+ tokens, in
128-token steps), so the planner's job is to keep the prefix byte-stable and to route
requests that share it to the same cache:

* tools are sent in the first form seen for the same set (:class:`ToolForms`);
* volatile lines (dates, timestamps) of the first system/developer message are moved after
  its stable part (:mod:`.volatile`; a string content or a single text part only);
* ``prompt_cache_key`` is set to a hash of the model, tools and stable system prompt, unless
  the app set one (only for OpenAI's own models: other OpenAI-compatible servers may refuse
  an unknown field).

``unchanged_tokens`` is how many prompt tokens precede the first byte the planner changed
(``None``: it changed no prompt byte).  Without the planner, no cache read could have gone
past that point, so cache reads beyond it are the planner's doing (a lower bound).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thrifty.levers.fewer_tokens.prompt_cache.prefix import (
    PrefixKey,
    ToolForms,
    chain,
    chain_json,
    json_bytes,
    stable_digest,
)
from thrifty.levers.fewer_tokens.prompt_cache.volatile import VolatileSplits
from thrifty.tokens import TokenCounter, tokenizer_for
from thrifty.types import JSON

_SYSTEM_ROLES = ("system", "developer")
KEY_PREFIX = "thrifty-"
_KEY_CHARS = 24
MAX_CACHE_KEYS = 10_000


@dataclass(slots=True)
class OpenAIPlan:
    body: JSON
    stable_key: PrefixKey
    cache_key_set: bool = False
    moved_volatile: bool = False
    reordered_tools: bool = False
    unchanged_tokens: int | None = None


def _system_text(message: Mapping[str, Any]) -> str | None:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if (
        isinstance(content, list)
        and len(content) == 1
        and isinstance(content[0], Mapping)
        and content[0].get("type") == "text"
        and isinstance(content[0].get("text"), str)
    ):
        return str(content[0]["text"])
    return None


class OpenAIPlanner:
    def __init__(
        self, tools: ToolForms, counter: TokenCounter, splits: VolatileSplits | None = None
    ) -> None:
        self._tools = tools
        self._counter = counter
        self._split = splits if splits is not None else VolatileSplits()
        self._keys: OrderedDict[PrefixKey, str] = OrderedDict()

    def plan(self, body: JSON, model: str, *, move_volatile: bool, set_key: bool) -> OpenAIPlan:
        messages: list[Any] = list(body["messages"])
        tools_in = body.get("tools")
        tools: list[Any] = list(tools_in) if isinstance(tools_in, list) else []
        plan = OpenAIPlan(body=body, stable_key=0)
        tools_json = b"[]"  # json_bytes([])
        if tools:
            stable, tools_json = self._tools.stable_json(tools)
            plan.reordered_tools = stable is not tools
            tools = list(stable)
        system_at = next(
            (
                i
                for i, m in enumerate(messages)
                if isinstance(m, Mapping) and m.get("role") in _SYSTEM_ROLES
            ),
            None,
        )
        system_text = _system_text(messages[system_at]) if system_at is not None else None
        stable_system = system_text
        if move_volatile and system_at is not None and system_text is not None:
            split = self._split(system_text)
            if split is not None:
                plan.moved_volatile = True
                stable_system = split.stable
                messages[system_at] = {
                    **messages[system_at],
                    "content": split.stable + "\n" + split.volatile,
                }
                head = "\n".join(system_text.split("\n")[: split.first_line])
                tools_tokens = self._count(model, tools_json.decode()) if tools else 0
                plan.unchanged_tokens = tools_tokens + self._count(model, head)
        if plan.reordered_tools:
            plan.unchanged_tokens = 0
        # The system prompt serialised once: for the prefix's hash and, for a new prefix,
        # its prompt_cache_key.
        system_json = json_bytes(stable_system)
        plan.stable_key = chain_json(chain_json(chain("openai", model), tools_json), system_json)
        new: JSON = dict(body)
        if tools and plan.reordered_tools:
            new["tools"] = tools
        if plan.moved_volatile:
            new["messages"] = messages
        if set_key and "prompt_cache_key" not in body and tokenizer_for(model).family == "openai":
            new["prompt_cache_key"] = self._cache_key(
                plan.stable_key, model, tools_json, system_json
            )
            plan.cache_key_set = True
        if plan.cache_key_set or plan.moved_volatile or plan.reordered_tools:
            plan.body = new
        return plan

    def _cache_key(self, key: PrefixKey, model: str, tools_json: bytes, system_json: bytes) -> str:
        """``prompt_cache_key`` for a prefix (its tools and system prompt as
        :func:`json_bytes`): SHA-256 (the same in every process), computed once per prefix
        and remembered (bounded)."""
        found = self._keys.get(key)
        if found is None:
            digest = stable_digest(json_bytes(model), tools_json, system_json)
            found = KEY_PREFIX + digest[:_KEY_CHARS]
            self._keys[key] = found
            while len(self._keys) > MAX_CACHE_KEYS:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        return found

    def _count(self, model: str, text: str) -> int:
        return self._counter.count_text(model, text).tokens if text else 0
