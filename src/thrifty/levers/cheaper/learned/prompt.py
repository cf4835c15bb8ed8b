"""The text a learned router reads, and a shadow sample keeps, of a request."""

from __future__ import annotations

from thrifty.dialects.view import RequestView
from thrifty.types import ChatRequest

MAX_PROMPT_CHARS = 20_000  # a longer message is cut: the features of its start decide


def prompt_of(request: ChatRequest) -> str | None:
    """The last user message's text (``None`` when the last turn is not a user's text, or
    the request is not a chat call)."""
    if request.api != "chat":
        return None
    turns = RequestView.of(request).messages
    if not turns or turns[-1].role != "user":
        return None
    text = turns[-1].text.strip()
    return text[:MAX_PROMPT_CHARS] or None
