"""The Anthropic prompt as the provider's prompt cache sees it: cacheable blocks (tools,
system, messages) with their token counts, identities and ``cache_control`` TTLs."""

from __future__ import annotations

from typing import Any

import orjson

from thrifty.sim.cache import Block
from thrifty.sim.dialect import BadRequest, JSONObj
from thrifty.sim.tokens import TokenMemo

__all__ = ["MAX_BREAKPOINTS", "prompt_blocks", "text_of"]

MAX_BREAKPOINTS = 4
_MESSAGE_OVERHEAD = 3  # role framing, charged to a message's first block
_MEDIA_TOKENS = 85  # flat estimate for an image or document block
_TTLS = ("5m", "1h")


def text_of(content: Any) -> str:
    """The text of a message or tool result's content: a string, or its text blocks joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    return ""


def _ttl(block: JSONObj) -> str | None:
    control = block.get("cache_control")
    if not isinstance(control, dict):
        return None
    ttl = control.get("ttl", "5m")
    if ttl not in _TTLS:
        raise BadRequest("cache_control.ttl: Input should be '5m' or '1h'")
    return str(ttl)


def _block_cost(block: JSONObj, memo: TokenMemo) -> tuple[int, object]:
    """Tokens and hashable identity of one content block."""
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        return memo.count(block["text"]), block["text"]
    if kind in ("image", "document"):
        return _MEDIA_TOKENS, orjson.dumps(block.get("source"))
    if kind == "tool_result":
        text = text_of(block.get("content"))
        return memo.count(text) + 3, ("tool_result", block.get("tool_use_id"), text)
    stripped = {k: v for k, v in block.items() if k != "cache_control"}
    raw = orjson.dumps(stripped, option=orjson.OPT_SORT_KEYS).decode()
    return memo.count(raw), raw


def prompt_blocks(body: JSONObj, memo: TokenMemo) -> list[Block]:
    """The prompt as cacheable blocks, in the order the cache sees it: tools, system,
    messages.  Raises :class:`BadRequest` for too many breakpoints or a bad TTL."""
    blocks: list[Block] = []
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            tokens, key = _block_cost({"type": "tool", **tool}, memo)
            blocks.append(Block(tokens, key, _ttl(tool)))
    system = body.get("system")
    if isinstance(system, str) and system:
        blocks.append(Block(memo.count(system), ("system", system), None))
    elif isinstance(system, list):
        for item in system:
            if isinstance(item, dict):
                tokens, key = _block_cost(item, memo)
                blocks.append(Block(tokens, ("system", key), _ttl(item)))
    for message in body["messages"]:
        role = str(message.get("role"))
        content = message.get("content")
        if isinstance(content, str):
            tokens = memo.count(content) + _MESSAGE_OVERHEAD
            blocks.append(Block(tokens, (role, content), None))
            continue
        items = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        if not items:
            blocks.append(Block(_MESSAGE_OVERHEAD, (role, None), None))
        for i, item in enumerate(items):
            tokens, key = _block_cost(item, memo)
            if i == 0:
                tokens, key = tokens + _MESSAGE_OVERHEAD, (role, key)
            blocks.append(Block(tokens, key, _ttl(item)))
    found = sum(1 for b in blocks if b.ttl is not None)
    if found > MAX_BREAKPOINTS:
        raise BadRequest(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {found}."
        )
    return blocks
