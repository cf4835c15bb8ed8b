"""The coalesce lever (being built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from thrifty.types import Stage

if TYPE_CHECKING:
    from thrifty.pipeline import Parts


async def build(parts: Parts) -> Stage | None:
    return None
