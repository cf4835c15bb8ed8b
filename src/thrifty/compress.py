"""Prompt compression as a library call (the pipeline stage is
``thrifty.levers.fewer_tokens.compress``; docs/levers/fewer-tokens.md, "Compression").

    from thrifty.compress import explain
    for removal in explain(request).removals:
        print(removal.transform, removal.where, removal.why, removal.removed)
"""

from __future__ import annotations

from thrifty.config import CompressSettings
from thrifty.levers.fewer_tokens.compress import (
    CompressionMemo,
    Explanation,
    Removal,
    compress,
)
from thrifty.levers.fewer_tokens.compress.engine import DEFAULTS
from thrifty.types import ChatRequest

__all__ = ["CompressSettings", "CompressionMemo", "Explanation", "Removal", "compress", "explain"]


def explain(request: ChatRequest, settings: CompressSettings = DEFAULTS) -> Explanation:
    """What compressing ``request`` with ``settings`` removes, and why (the request
    itself is not changed)."""
    return compress(request, settings)[1]
