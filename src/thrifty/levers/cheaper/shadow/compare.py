"""Whether the served answer agrees with the strong model's: the comparators.

``exact``, ``normalised`` and ``json`` are the semantic cache's comparators
(:func:`thrifty.levers.fewer_calls.semantic.answers.comparator`).  ``judge`` is the shared
LLM judge (:mod:`thrifty.levers.judge`), asked whether the strong model's answer (answer A)
and the served one (answer B) serve the request equally well; any reply but SAME or
DIFFERENT is no verdict (``None``), never a guess.  The judge's call is paid for: it is
returned, tagged ``lever="shadow"``, so the stage books it with the shadow call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from thrifty.levers.fewer_calls.semantic.answers import comparator
from thrifty.levers.judge import Judge
from thrifty.types import Call, ChatRequest, Handler

__all__ = ["Compare", "LlmJudge", "TextComparator"]


class Compare(Protocol):
    """``(request text, reference, candidate) -> (agreed or None, judge calls made)``."""

    def __call__(
        self, prompt: str, reference: str, candidate: str, request: ChatRequest
    ) -> Awaitable[tuple[bool | None, list[Call]]]: ...


class TextComparator:
    """A text comparator of the semantic cache, with no call."""

    def __init__(self, name: str, fields: Sequence[str] = ()) -> None:
        if name not in ("exact", "normalised", "json"):
            raise ValueError(f"unknown comparator {name!r}")
        self.name = name
        self._agree: Callable[[str, str], bool] = comparator(name, fields)  # type: ignore[arg-type]

    async def __call__(
        self, prompt: str, reference: str, candidate: str, request: ChatRequest
    ) -> tuple[bool | None, list[Call]]:
        return self._agree(reference, candidate), []


class LlmJudge:
    """The ``judge`` comparator: the shared judge asking ``model`` through ``call`` (the
    providers), its call booked as the shadow lever's."""

    name = "judge"

    def __init__(self, model: str, call: Handler) -> None:
        self.model = model
        self._judge = Judge(call, "shadow")

    async def __call__(
        self, prompt: str, reference: str, candidate: str, request: ChatRequest
    ) -> tuple[bool | None, list[Call]]:
        judgment = await self._judge(request, self.model, prompt, reference, candidate)
        return judgment.agreed, [judgment.call] if judgment.call is not None else []
