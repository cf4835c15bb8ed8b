"""The ``summary`` policy's memory: the dropped turns summarised by a cheap model, once per
cut, and remembered so every later request sends the very same summary text (a summary
that changed each turn would break the prompt cache it is meant to keep).

Summaries chain: the summary at a cut is written from the summary at the previous cut plus
the turns between the two, so each call reads a bounded amount of text.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from thrifty.dialects.view import Turn
from thrifty.types import JSON, ChatRequest, ChatResponse, Dialect, Handler

INSTRUCTIONS = (
    "You keep the memory of a long conversation. Write a concise summary of the earlier "
    "summary and the turns below: facts, names, numbers, decisions and open questions the "
    "assistant will need later. Plain text, no preamble."
)
NOTE_PREFIX = "Summary of the earlier conversation:\n"


def prefix_digests(wires: Sequence[bytes]) -> list[str]:
    """``digests[i]`` identifies the first ``i`` messages (a chained SHA-256 of each
    message's wire bytes)."""
    digest = hashlib.sha256(b"history-v1")
    out = [digest.hexdigest()]
    for wire in wires:
        digest = digest.copy()
        digest.update(len(wire).to_bytes(8, "big"))
        digest.update(wire)
        out.append(digest.hexdigest())
    return out


class SummaryMemo:
    """Summaries by (tenant, prefix digest), the newest ``limit`` kept."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: OrderedDict[tuple[str | None, str], str] = OrderedDict()

    def get(self, tenant: str | None, digest: str) -> str | None:
        key = (tenant, digest)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, tenant: str | None, digest: str, summary: str) -> None:
        self._entries[(tenant, digest)] = summary
        self._entries.move_to_end((tenant, digest))
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def transcript(turns: Sequence[Turn]) -> str:
    lines = []
    for turn in turns:
        calls = "".join(f" [called {c.name}]" for c in turn.tool_calls)
        lines.append(f"{turn.role}: {turn.text}{calls}")
    return "\n".join(lines)


def summary_request(
    model: str, dialect: Dialect, earlier: str | None, turns: Sequence[Turn], max_tokens: int
) -> ChatRequest:
    """The request that asks ``model`` for the summary."""
    text = (f"Earlier summary:\n{earlier}\n\n" if earlier else "") + "Turns:\n" + transcript(turns)
    body: JSON
    if dialect == "anthropic":
        body = {
            "model": model,
            "system": INSTRUCTIONS,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": max_tokens,
        }
    else:
        body = {
            "model": model,
            "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": text},
            ],
            "max_tokens": max_tokens,
        }
    return ChatRequest(dialect=dialect, body=body, model=model, requested_model=model)


def answer_text(response: ChatResponse) -> str | None:
    """The text of a complete answer in either dialect (``None``: no usable text)."""
    body: Any = response.body
    if not isinstance(body, dict):
        return None
    if response.dialect == "anthropic":
        blocks = body.get("content")
        if not isinstance(blocks, list):
            return None
        texts = [b.get("text") for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
        text = "".join(t for t in texts if isinstance(t, str))
    else:
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return None
        message = choices[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        text = content if isinstance(content, str) else ""
    text = text.strip()
    return text or None


@dataclass(frozen=True, slots=True)
class Summarised:
    """A summary (``None``: a call gave no usable text) and the responses of the calls
    made for it (for booking)."""

    text: str | None
    responses: tuple[ChatResponse, ...]
    error: str | None = None


async def summarise(
    send: Handler,
    memo: SummaryMemo,
    *,
    tenant: str | None,
    model: str,
    dialect: Dialect,
    turns: Callable[[int, int], Sequence[Turn]],
    cuts: Sequence[int],
    digests: Sequence[str],
    max_tokens: int,
) -> Summarised:
    """The summary of ``turns[:cuts[-1]]``, written through the chain of ``cuts`` from the
    newest one remembered.  ``turns(begin, end)`` reads the turns of a span (only when a
    summary must be written)."""
    cut = cuts[-1]
    known = memo.get(tenant, digests[cut])
    if known is not None:
        return Summarised(known, ())
    start_index = 0
    earlier: str | None = None
    for index in range(len(cuts) - 2, -1, -1):
        found = memo.get(tenant, digests[cuts[index]])
        if found is not None:
            start_index, earlier = index + 1, found
            break
    responses: list[ChatResponse] = []
    begin = cuts[start_index - 1] if start_index > 0 else 0
    for end in cuts[start_index:]:
        request = summary_request(model, dialect, earlier, turns(begin, end), max_tokens)
        try:
            response = await send(request)
        except Exception as exc:  # the request goes on unchanged; the app is told why
            return Summarised(None, tuple(responses), f"summary call failed: {type(exc).__name__}")
        responses.append(response)
        text = answer_text(response)
        if text is None:
            return Summarised(None, tuple(responses), "summary call gave no text")
        memo.put(tenant, digests[end], text)
        earlier, begin = text, end
    return Summarised(earlier, tuple(responses))
