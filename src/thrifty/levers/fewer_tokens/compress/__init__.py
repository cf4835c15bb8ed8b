"""Prompt compression: safe, deterministic transforms of long prompts (a pipeline stage,
``[levers.compress]``, off by default; docs/levers/fewer-tokens.md, "Compression").

:func:`compress` returns the compressed request and its :class:`Explanation` (what each
transform removed and why); :func:`explain` returns the explanation alone.
"""

from thrifty.levers.fewer_tokens.compress.engine import compress
from thrifty.levers.fewer_tokens.compress.memo import CompressionMemo
from thrifty.levers.fewer_tokens.compress.report import Explanation, Removal

__all__ = ["CompressionMemo", "Explanation", "Removal", "compress"]
