"""What compression did to one request: the list :func:`thrifty.compress.explain`
returns and the ``x-thrifty-compress`` header summarises."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# Bounds on what a removal keeps of the text it removed (an explanation's size must not
# grow with the prompt).
MAX_SHOWN = 200


@dataclass(frozen=True, slots=True)
class Removal:
    """One thing a transform took out: ``transform`` (``whitespace``, ``json``,
    ``duplicate_paragraph``, ``repeated_instruction``, ``example``), ``removed`` (the
    text, or a description for whitespace; clipped to :data:`MAX_SHOWN` characters),
    ``where`` (``system``, ``message 3``...) and ``why``."""

    transform: str
    removed: str
    where: str
    why: str

    def __post_init__(self) -> None:
        if len(self.removed) > MAX_SHOWN:
            object.__setattr__(self, "removed", self.removed[: MAX_SHOWN - 3] + "...")


@dataclass(frozen=True, slots=True)
class Explanation:
    """The compression of one request.

    ``skipped`` says why nothing was done (``None``: the transforms ran); ``warning`` is
    set for a malformed conversation, which passes through unchanged.  Token counts are
    estimates (see :func:`~thrifty.levers.fewer_tokens.compress.wire.estimate_tokens`).
    """

    tokens_before: int
    tokens_after: int
    removals: tuple[Removal, ...] = ()
    skipped: str | None = None
    warning: str | None = None

    @property
    def tokens_saved(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def changed(self) -> bool:
        return bool(self.removals)

    def summary(self) -> str:
        """One header-safe line: ``-412 tokens (est.): json 3, duplicate_paragraph 1`` or
        ``skipped: ...``."""
        if self.skipped is not None:
            return f"skipped: {self.skipped}"
        if not self.removals:
            return "unchanged"
        counts = Counter(r.transform for r in self.removals)
        listed = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        return f"-{self.tokens_saved} tokens (est.): {listed}"
