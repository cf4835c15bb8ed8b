"""One request compressed: the transforms in order, and what each removed.

1. few-shot examples trimmed (when ``max_examples`` is set);
2. JSON minified (system, user and tool-result texts);
3. whitespace and markup normalised (system and user texts);
4. repeated instructions and duplicate paragraphs removed (system and user texts).

Every transform is deterministic and keeps protected spans verbatim; running the whole
again changes nothing.  A text is never emptied (an empty text block is invalid).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace

from thrifty.config import CompressSettings
from thrifty.levers.fewer_tokens.compress.dedupe import NOTHING_SEEN, Deduper, Seen
from thrifty.levers.fewer_tokens.compress.examples import trim_examples
from thrifty.levers.fewer_tokens.compress.memo import CompressionMemo, SlotResult
from thrifty.levers.fewer_tokens.compress.report import Explanation, Removal
from thrifty.levers.fewer_tokens.compress.text import minify_json, normalise
from thrifty.levers.fewer_tokens.compress.wire import (
    Slot,
    problem,
    prompt_tokens,
    slots,
    written,
)
from thrifty.types import ChatRequest

DEFAULTS = CompressSettings(enabled=True)


def compress(
    request: ChatRequest,
    settings: CompressSettings = DEFAULTS,
    memo: CompressionMemo | None = None,
) -> tuple[ChatRequest, Explanation]:
    """``request`` compressed, and what was done (the request itself when nothing was).
    ``memo`` remembers compressed prefixes between calls (the stage keeps one)."""
    if request.api != "chat":
        return request, Explanation(0, 0, skipped="not a chat request")
    size = prompt_tokens(request.body)
    if size < settings.min_tokens:
        return request, Explanation(size, size, skipped=f"under {settings.min_tokens} tokens")
    trouble = problem(request)
    if trouble is not None:
        warning = f"malformed conversation, passed through unchanged: {trouble}"
        return request, Explanation(size, size, skipped="malformed conversation", warning=warning)
    found = slots(request)
    texts, removals = _transform(found, settings, memo)
    changes = {s.path: t for s, t in zip(found, texts, strict=True) if t != s.text}
    if not changes:
        return request, Explanation(size, size)
    saved = min(size, sum(r.tokens for r in removals))
    body = written(request.body, changes)
    return replace(request, body=body), Explanation(size, size - saved, tuple(removals))


def _transform(
    found: list[Slot], settings: CompressSettings, memo: CompressionMemo | None
) -> tuple[list[str], list[Removal]]:
    texts = [s.text for s in found]
    removals: list[Removal] = []
    if settings.max_examples is not None:
        query = next((s.text for s in reversed(found) if s.kind == "user"), "")
        wheres = [s.where for s in found]
        texts, trimmed = trim_examples(texts, wheres, query, settings.max_examples)
        removals += trimmed
        memo = None  # the examples kept depend on the question: nothing to reuse
    seen = NOTHING_SEEN
    key: Hashable = (settings.minify_json, settings.dedupe)
    for index, slot in enumerate(found):
        key = (key, slot.kind, slot.where, texts[index])
        done = memo.get(key) if memo is not None else None
        if done is None:
            done = _slot(texts[index], slot, settings, seen)
            if memo is not None:
                size = len(texts[index]) + len(done.text)
                if done.seen is not seen:  # a new snapshot of what deduplication knows
                    size += done.seen.chars
                memo.put(key, done, size)
        texts[index], seen = done.text, done.seen
        removals += done.removals
    for index, slot in enumerate(found):
        if not texts[index].strip():  # never empty a text: keep it as it was
            texts[index] = slot.text
            removals = [r for r in removals if r.where != slot.where]
    return texts, removals


def _slot(text: str, slot: Slot, settings: CompressSettings, seen: Seen) -> SlotResult:
    """One text through the transforms, after the texts before it."""
    removals: list[Removal] = []
    if settings.minify_json:
        minified = minify_json(text)
        if minified != text:
            removals.append(_whitespace("json", text, minified, slot.where))
            text = minified
    if slot.kind == "tool":
        return SlotResult(text, tuple(removals), seen)
    normalised = normalise(text)
    if normalised != text:
        removals.append(_whitespace("whitespace", text, normalised, slot.where))
        text = normalised
    if settings.dedupe:
        deduper = Deduper(seen)
        text = deduper.text(text, slot.where)
        removals += deduper.removals
        seen = deduper.seen()
    return SlotResult(text, tuple(removals), seen)


def _whitespace(transform: str, before: str, after: str, where: str) -> Removal:
    why = (
        "JSON needs no whitespace between its tokens"
        if transform == "json"
        else "whitespace and markup that carry no meaning"
    )
    removed = len(before) - len(after)
    return Removal(transform, f"{removed} characters", where, why, removed)
