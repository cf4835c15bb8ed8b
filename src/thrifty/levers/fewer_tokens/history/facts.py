"""Reading each message's facts once: a request resends the whole conversation every
turn, so the facts (and token counts) of the messages already seen are looked up by their
wire bytes instead of being read and counted again."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson

from thrifty.dialects.view import RequestView, Turn
from thrifty.levers.fewer_tokens.history.cuts import MessageFacts
from thrifty.tokens import TokenCounter
from thrifty.types import ChatRequest

MEMO_BYTES = 32 * 2**20  # wire bytes of the messages whose facts are remembered


def read_turn(request: ChatRequest, message: Any) -> Turn:
    """One wire message of ``request``'s dialect as a turn (never a system message)."""
    alone = dataclasses.replace(request, body={"messages": [message]})
    (turn,) = RequestView.of(alone).messages
    return turn


class FactsReader:
    """Facts of wire messages, remembered by (dialect, model, wire bytes) in a bounded
    memo (``memo_bytes`` of message bytes at most, least recently used dropped first)."""

    def __init__(self, counter: TokenCounter, memo_bytes: int = MEMO_BYTES) -> None:
        self._counter = counter
        self._limit = memo_bytes
        self._held = 0
        self._memo: OrderedDict[tuple[str, str, bytes], MessageFacts] = OrderedDict()

    def read(
        self, request: ChatRequest, messages: Sequence[Any]
    ) -> tuple[list[MessageFacts], list[bytes]] | None:
        """Each message's facts and wire bytes; ``None`` when one is not JSON."""
        facts: list[MessageFacts] = []
        keys: list[bytes] = []
        memo = self._memo
        for message in messages:
            try:
                wire = orjson.dumps(message)
            except TypeError:
                return None
            key = (request.dialect, request.model, wire)
            found = memo.get(key)
            if found is None:
                found = self._facts(request, message)
                memo[key] = found
                self._held += len(wire)
                while self._held > self._limit and memo:
                    (_, _, old), _ = memo.popitem(last=False)
                    self._held -= len(old)
            else:
                memo.move_to_end(key)
            facts.append(found)
            keys.append(wire)
        return facts, keys

    def _facts(self, request: ChatRequest, message: Any) -> MessageFacts:
        if not isinstance(message, dict):
            return MessageFacts.of(read_turn(request, message), 0)
        tokens = self._counter.count_messages(request.model, [message]).tokens
        plain = plain_facts(message, tokens)
        return plain if plain is not None else MessageFacts.of(read_turn(request, message), tokens)

    def __len__(self) -> int:
        return len(self._memo)


def plain_facts(message: dict[str, Any], tokens: int) -> MessageFacts | None:
    """The facts of a plain message (a user or assistant role and a string content,
    nothing else: most of a chat) read directly, as :meth:`MessageFacts.of` reads them
    from the turn (tests/levers/fewer_tokens/test_history_facts.py checks it), without
    building the turn; ``None`` for any other message."""
    if len(message) != 2:
        return None
    role, content = message.get("role"), message.get("content")
    if role not in _PLAIN_ROLES or not isinstance(content, str):
        return None
    return MessageFacts(role, tokens, empty=not content or content.isspace())


_PLAIN_ROLES = frozenset({"user", "assistant"})
