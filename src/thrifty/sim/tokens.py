"""Offline, deterministic token estimates and simulated answers.

A token is a run of up to four word characters or one punctuation character, so a word
of ``n`` letters costs ``ceil(n / 4)`` tokens and whitespace is free.  Good enough to make
usage numbers move the way real ones do, with no tokenizer download.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from thrifty.bounded_memo import BoundedMemo

TOKEN_RE = re.compile(r"\w{1,4}|[^\w\s]")
_MARKER_RE = re.compile(r"\[\[sim:[^\]]*\]\]")
_WORD_CHUNK_RE = re.compile(r"\s*\S+")
ECHO_MARKER = "[[sim:echo]]"
_JUDGE_RE = re.compile(r"<answer_a>\n(.*)\n</answer_a>\n<answer_b>\n(.*)\n</answer_b>", re.DOTALL)
_NOT_WORD_RE = re.compile(r"[\W_]+")

# Every word is at most four letters: exactly one token each.
_VOCAB = (
    "the", "cost", "of", "each", "call", "is", "low", "and", "fast", "data", "flow", "into",
    "a", "warm", "tier", "so", "we", "save", "more", "time", "with", "less", "work", "on",
    "this", "plan", "for", "our", "team", "runs", "well", "now", "it", "can", "read", "all",
    "new", "logs", "then", "sum", "up", "what", "you", "need", "to", "know", "here", "may",
    "help", "keep", "pay", "in", "line", "as", "load", "grow", "over", "the", "next", "week",
    "two", "real", "good", "idea",
)  # fmt: skip


def count_tokens(text: str) -> int:
    """Deterministic offline estimate of how many tokens ``text`` holds."""
    return len(TOKEN_RE.findall(text))


def token_pieces(text: str) -> list[str]:
    """The token pieces of ``text``, in order (``len`` of this is :func:`count_tokens`)."""
    return TOKEN_RE.findall(text)


def truncate_tokens(text: str, limit: int) -> str:
    """The longest prefix of ``text`` holding at most ``limit`` tokens."""
    if limit <= 0:
        return ""
    end = 0
    for n, match in enumerate(TOKEN_RE.finditer(text), 1):
        end = match.end()
        if n >= limit:
            break
    return text[:end]


class TokenMemo:
    """Remembers the token pieces of long texts (prompts repeat a lot: shared system prompts,
    growing chats, benchmark replays), ``max_chars`` characters of text at most, the least
    recently used out first."""

    MIN_CHARS = 200

    def __init__(self, max_chars: int = 2_000_000) -> None:
        self._memo: BoundedMemo[list[str]] = BoundedMemo(max_chars)

    def pieces(self, text: str) -> list[str]:
        """Token pieces of ``text``; do not mutate the returned list."""
        if len(text) < self.MIN_CHARS:
            return TOKEN_RE.findall(text)
        found = self._memo.get(text)
        if found is None:
            found = TOKEN_RE.findall(text)
            self._memo.put(text, found)
        return found

    def count(self, text: str) -> int:
        return len(self.pieces(text))


def strip_markers(text: str) -> str:
    return _MARKER_RE.sub("", text).strip()


@dataclass(frozen=True, slots=True)
class Answer:
    """A simulated completion: its text, its token count and whether it hit the cap."""

    text: str
    tokens: int
    capped: bool

    def chunks(self) -> list[str]:
        """The text split into stream deltas (one word, with its leading space, each)."""
        return _WORD_CHUNK_RE.findall(self.text) or [self.text]


def judge_verdict(last_user_text: str) -> str | None:
    """The simulator's stand-in for an answer judge (a test double, not a judgment): a
    message holding ``<answer_a>\nA\n</answer_a>\n<answer_b>\nB\n</answer_b>`` (the LLM
    judge's prompt, :mod:`thrifty.levers.judge`) is answered ``SAME`` when A and B use the
    same set of words (order, case and punctuation aside), else ``DIFFERENT``.  ``None``:
    not that form."""
    found = _JUDGE_RE.search(last_user_text)
    if found is None:
        return None
    first, second = (set(_NOT_WORD_RE.sub(" ", t.casefold()).split()) for t in found.groups())
    return "SAME" if first == second else "DIFFERENT"


def make_answer(seed: bytes, last_user_text: str, max_tokens: int | None) -> Answer:
    """The deterministic answer for a request whose identity hashes to ``seed``."""
    verdict = judge_verdict(last_user_text)
    if verdict is not None:
        text = verdict
    elif ECHO_MARKER in last_user_text:
        text = strip_markers(last_user_text)
    else:
        stream = hashlib.shake_128(seed).digest(80)
        target = 20 + stream[0] % 61  # 20..80 tokens
        words = [f"Simulated reply {stream[1:5].hex()}:"]  # 8 tokens
        words.extend([_VOCAB[b % len(_VOCAB)] for b in stream[5 : 5 + target - 9]])
        text = " ".join(words) + "."
    tokens = count_tokens(text)
    if max_tokens is not None and tokens > max_tokens:
        text = truncate_tokens(text, max_tokens)
        return Answer(text=text, tokens=count_tokens(text), capped=True)
    return Answer(text=text, tokens=tokens, capped=False)
