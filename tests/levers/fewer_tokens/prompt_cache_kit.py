"""Shared helpers for the prompt-cache planner's tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thrifty.config import PromptCacheSettings
from thrifty.levers.fewer_tokens.prompt_cache import PromptCachePlanner, prompt_cache_stage
from thrifty.tokens import TokenCounter
from thrifty.types import ChatRequest, Handler

_PARAGRAPH = (
    "Refunds go back to the original payment method within five working days. "
    "Ask for the order number before you look anything up, and never guess it. "
    "When a parcel is late, check the carrier status and apologise once. "
    "Escalate billing disputes above fifty dollars to a human agent. "
    "Keep answers short, polite and specific to the customer's account."
)
_WORDS = _PARAGRAPH.split()

COUNTER = TokenCounter()


def long_text(words: int, seed: int = 0) -> str:
    """Deterministic prose of about ``words`` words (~1.3 tokens a word)."""
    out = []
    for i in range(words):
        out.append(_WORDS[(i * 7 + seed) % len(_WORDS)])
        if i % 12 == 11:
            out[-1] += "."
    return " ".join(out)


SYSTEM = long_text(2_400)  # ~3k tokens: above 1,024 and 2,048, below Haiku 4.5's 4,096


def anthropic_request(
    *,
    system: Any = SYSTEM,
    messages: list[Any] | None = None,
    tools: list[Any] | None = None,
    at: float = 1_000.0,
    model: str = "claude-sonnet-4-6",
    task: str | None = None,
    **extra: Any,
) -> ChatRequest:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 64,
        "messages": messages or [{"role": "user", "content": "Where is my order?"}],
        **extra,
    }
    if system is not None:
        body["system"] = system
    if tools is not None:
        body["tools"] = tools
    return ChatRequest(
        dialect="anthropic",
        body=body,
        model=model,
        requested_model=model,
        task=task,
        received_at=at,
    )


def openai_request(
    *,
    system: str | None = SYSTEM,
    user: str = "Where is my order?",
    tools: list[Any] | None = None,
    at: float = 1_000.0,
    model: str = "gpt-4o",
    task: str | None = None,
    **extra: Any,
) -> ChatRequest:
    messages: list[Any] = [{"role": "system", "content": system}] if system is not None else []
    messages.append({"role": "user", "content": user})
    body: dict[str, Any] = {"model": model, "messages": messages, **extra}
    if tools is not None:
        body["tools"] = tools
    return ChatRequest(
        dialect="openai", body=body, model=model, requested_model=model, task=task, received_at=at
    )


def stage_for(
    upstream: Handler, tasks: Mapping[str | None, PromptCacheSettings] | None = None, **kw: Any
) -> Handler:
    settings = dict(tasks or {None: PromptCacheSettings(enabled=True, **kw)})
    return prompt_cache_stage(PromptCachePlanner(settings, COUNTER))(upstream)


def breakpoints(body: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Where the body carries cache_control, in prompt order: (place, ttl)."""
    found: list[tuple[str, Any]] = []
    for i, tool in enumerate(body.get("tools") or []):
        if "cache_control" in tool:
            found.append((f"tool{i}", tool["cache_control"].get("ttl", "5m")))
    system = body.get("system")
    for i, block in enumerate(system if isinstance(system, list) else []):
        if "cache_control" in block:
            found.append((f"system{i}", block["cache_control"].get("ttl", "5m")))
    for m, message in enumerate(body["messages"]):
        content = message.get("content")
        for b, block in enumerate(content if isinstance(content, list) else []):
            if "cache_control" in block:
                found.append((f"message{m}.{b}", block["cache_control"].get("ttl", "5m")))
    return found


def tool(name: str, words: int = 10) -> dict[str, Any]:
    return {
        "name": name,
        "description": long_text(words, seed=len(name)),
        "input_schema": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "note": {"type": "string"}},
            "required": ["id"],
        },
    }
