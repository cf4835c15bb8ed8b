"""History reads a plain message's facts (a user or assistant role, a string content)
without building its turn: the facts must be those the turn gives, in both dialects."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.history.cuts import MessageFacts
from thrifty.levers.fewer_tokens.history.facts import plain_facts, read_turn
from thrifty.testing import request_for

BLANKS = st.sampled_from([" ", "\n", "\t", "\r", "\u00a0", "\u2003", "\u3000", "\x1c", "\x85"])
CONTENTS = st.one_of(st.text(), st.lists(BLANKS).map("".join), st.text(alphabet=BLANKS))


@given(
    role=st.sampled_from(["user", "assistant"]),
    content=CONTENTS,
    dialect=st.sampled_from(["openai", "anthropic"]),
)
def test_a_plain_message_has_the_facts_of_its_turn(role: str, content: str, dialect: str) -> None:
    model = "claude-sonnet-4-6" if dialect == "anthropic" else "gpt-4o"
    request = request_for(model, "x", dialect=dialect)  # type: ignore[arg-type]
    message = {"role": role, "content": content}
    assert plain_facts(message, 7) == MessageFacts.of(read_turn(request, message), 7)


def test_any_other_message_is_read_from_its_turn() -> None:
    others: list[dict[str, Any]] = [
        {"role": "tool", "content": "42"},
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": "ok", "name": "bot"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"content": "hi"},
    ]
    assert [plain_facts(message, 1) for message in others] == [None] * len(others)
