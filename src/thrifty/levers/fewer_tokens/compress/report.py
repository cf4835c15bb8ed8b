"""What compression did to one request: the list :func:`thrifty.compress.explain`
returns and the ``x-thrifty-compress`` header summarises."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# Bounds on what a removal keeps of the text it removed (an explanation's size must not
# grow with the prompt).
MAX_SHOWN = 200
# Token estimates, from o200k_base counts on the benchmark corpus (bench/compression.py):
# removed text came to 4.6 characters a token and removed blanks to 9.5 (a tokenizer folds
# most runs of spaces into a neighbouring token).  Rounded up, so the estimate errs low.
CHARS_PER_TOKEN = 5
CHARS_PER_BLANK_TOKEN = 10
BLANK_TRANSFORMS = frozenset({"whitespace", "json"})


@dataclass(frozen=True, slots=True)
class Removal:
    """One thing a transform took out: ``transform`` (``whitespace``, ``json``,
    ``duplicate_paragraph``, ``repeated_instruction``, ``example``), ``removed`` (the
    text, or a description for whitespace; clipped to :data:`MAX_SHOWN` characters),
    ``where`` (``system``, ``message 3``...), ``why``, and ``chars``, the number of
    characters it took out."""

    @property
    def tokens(self) -> int:
        """Estimated tokens it took out: whitespace at :data:`CHARS_PER_BLANK_TOKEN`
        characters a token, text at :data:`CHARS_PER_TOKEN` (rounded down: the estimate
        errs low)."""
        per = CHARS_PER_BLANK_TOKEN if self.transform in BLANK_TRANSFORMS else CHARS_PER_TOKEN
        return self.chars // per

    transform: str
    removed: str
    where: str
    why: str
    chars: int = 0  # characters it took out (``removed`` may be clipped)

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
