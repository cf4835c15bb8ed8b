"""Offline token counting: exact for OpenAI encodings, a documented approximation for
Claude models (docs/levers/fewer-tokens.md, "Token counting").

    from thrifty.tokens import TokenCounter, count_tokens

    count_tokens("gpt-4o", "hello world").tokens            # 2, exact
    count_tokens("gpt-4o", [{"role": "user", "content": "hi"}]).tokens   # chat framing too
    counter = TokenCounter()   # keep one: it loads each encoding once and remembers counts
    counter.count_request(request)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from thrifty.tokens.counter import TokenCount, TokenCounter
from thrifty.tokens.encodings import ENCODINGS, EncodingName, load_encoding
from thrifty.tokens.models import ANTHROPIC_SCALE, EAGER_ENCODING, TokenizerChoice, tokenizer_for

__all__ = [
    "ANTHROPIC_SCALE",
    "EAGER_ENCODING",
    "ENCODINGS",
    "EncodingName",
    "TokenCount",
    "TokenCounter",
    "TokenizerChoice",
    "count_tokens",
    "load_encoding",
    "tokenizer_for",
]


def count_tokens(
    model: str,
    content: str | Sequence[Mapping[str, Any]],
    *,
    system: Any = None,
    tools: Sequence[Any] | None = None,
    counter: TokenCounter | None = None,
) -> TokenCount:
    """Tokens of ``content`` for ``model``: a plain text (no framing), or chat messages
    (OpenAI or Anthropic shape, with ``system`` and ``tools`` if any, framing included).

    Without ``counter`` a new :class:`TokenCounter` is made for this call, which loads the
    encoding again (seconds): pass one you keep when counting more than once."""
    counter = counter or TokenCounter()
    if isinstance(content, str):
        if system is not None or tools:
            raise ValueError("system and tools need chat messages, not a plain text")
        return counter.count_text(model, content)
    return counter.count_messages(model, content, system=system, tools=tools)
