"""Which tokenizer counts a model's tokens, and how exactly.

* OpenAI: ``o200k_base`` for gpt-4o, gpt-4.1, gpt-4.5, gpt-5, the o-series (o1, o3, o4),
  chatgpt-4o and gpt-oss; ``cl100k_base`` for gpt-4 (and gpt-4-turbo), gpt-3.5 and the
  text-embedding-3 / ada-002 embeddings.  Exact for text.
* Anthropic (``claude-*``): no tokenizer of a current Claude model is published, and the
  API's ``count_tokens`` is a remote call.  thrifty approximates a Claude count as the
  ``o200k_base`` count times :data:`ANTHROPIC_SCALE`, the ratio of the legacy Claude
  tokenizer (the one Anthropic published for Claude 1 and 2) to ``o200k_base``, measured
  on real text (docs/levers/fewer-tokens.md, "Token counting", has the figures and the
  error).  Never exact.
* Any other model: ``o200k_base``, marked as an estimate.

A provider prefix (``openai/gpt-4o``, ``anthropic/claude-...``) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from thrifty.tokens.encodings import EncodingName

# Legacy Claude tokenizer tokens per o200k_base token, measured by bench/token_estimate.py
# on the corpus described in docs/levers/fewer-tokens.md.
ANTHROPIC_SCALE = Decimal("1.07")

# The encoding that counts Claude, current OpenAI and unknown models: the one a gateway
# loads at start (cl100k_base, for gpt-4 and gpt-3.5 only, is loaded on first use).
EAGER_ENCODING: EncodingName = "o200k_base"

Family = Literal["openai", "anthropic", "other"]

_O200K_PREFIXES = (
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "o1",
    "o3",
    "o4",
    "chatgpt-4o",
    "chatgpt-5",
    "gpt-oss",
    "codex-",
    "computer-use",
)
_CL100K_PREFIXES = (
    "gpt-4",  # after the o200k names above: gpt-4, gpt-4-turbo, gpt-4-32k
    "gpt-3.5",
    "text-embedding-3",
    "text-embedding-ada-002",
)


@dataclass(frozen=True, slots=True)
class TokenizerChoice:
    """How a model's tokens are counted: ``encoding`` counts, times ``scale``; ``exact``
    when that is the model's own tokenizer."""

    family: Family
    encoding: EncodingName
    scale: Decimal
    exact: bool

    @property
    def method(self) -> str:
        """A short description for people (``o200k_base``, ``o200k_base x 1.07 (approx)``)."""
        if self.exact:
            return self.encoding
        if self.scale != 1:
            return f"{self.encoding} x {self.scale} (approximation)"
        return f"{self.encoding} (estimate: unknown model)"


_CLAUDE = TokenizerChoice("anthropic", "o200k_base", ANTHROPIC_SCALE, exact=False)
_O200K = TokenizerChoice("openai", "o200k_base", Decimal(1), exact=True)
_CL100K = TokenizerChoice("openai", "cl100k_base", Decimal(1), exact=True)
_OTHER = TokenizerChoice("other", "o200k_base", Decimal(1), exact=False)


def tokenizer_for(model: str) -> TokenizerChoice:
    """The tokenizer that counts ``model``'s tokens (see the module docs)."""
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith("claude"):
        return _CLAUDE
    if name.startswith(_O200K_PREFIXES):
        return _O200K
    if name.startswith(_CL100K_PREFIXES):
        return _CL100K
    return _OTHER
