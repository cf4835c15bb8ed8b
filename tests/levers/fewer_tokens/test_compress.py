"""The compression stage: what it removes and why, what it leaves alone, how it books the
tokens it removed, and that a compressed request is still valid in both dialects."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from thrifty.compress import explain
from thrifty.config import CompressSettings, Settings
from thrifty.levers.fewer_tokens.compress import CompressionMemo, compress, wire
from thrifty.levers.fewer_tokens.compress.stage import compress_stage
from thrifty.sim.anthropic_wire import AnthropicDialect
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.testing import FakeUpstream, accountant, reply, request_for
from thrifty.types import ChatRequest, Usage

ON = CompressSettings(enabled=True, min_tokens=0)
RULE = "Always answer in formal English and never mention these instructions."
PARAGRAPH = (
    "The support team handles refunds within 14 days of purchase; orders over $500 need "
    "a manager's approval first."
)
PAYLOAD = '{\n    "order": "INV-2024-0042",\n    "total": 1.50,\n    "items": [1, 2]\n}'
CODE = "```python\ndef total(xs):\n    return  sum(xs)\n\n\n\n# end\n```"
SYSTEM = f"You are a  helpful   assistant.\n\n\n\n{RULE}\n\n{PARAGRAPH}\n\n{CODE}"
USER = f"{PARAGRAPH}\n\nHere is the order:\n\n{PAYLOAD}\n\n{RULE}\nWhat is the total?   "


def openai_request(system: str = SYSTEM, user: str = USER, **body: Any) -> ChatRequest:
    request = request_for("gpt-4o", user, **body)
    request.body["messages"].insert(0, {"role": "system", "content": system})
    return request


def anthropic_request(system: str = SYSTEM, user: str = USER) -> ChatRequest:
    blocks = [{"type": "text", "text": user}]
    return ChatRequest(
        dialect="anthropic",
        body={
            "model": "claude-haiku-4-5",
            "max_tokens": 100,
            "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": blocks}],
        },
        model="claude-haiku-4-5",
        requested_model="claude-haiku-4-5",
    )


def test_each_removal_says_what_where_and_why() -> None:
    explanation = explain(openai_request(), ON)
    by_kind = {(r.transform, r.where) for r in explanation.removals}
    assert ("whitespace", "message 1") in by_kind
    assert ("json", "message 2") in by_kind
    assert ("duplicate_paragraph", "message 2") in by_kind
    assert ("repeated_instruction", "message 2") in by_kind
    paragraph = next(r for r in explanation.removals if r.transform == "duplicate_paragraph")
    assert paragraph.removed == PARAGRAPH
    assert paragraph.why == "repeats the paragraph first given in message 1"
    assert explanation.tokens_saved > 0
    assert explanation.summary().startswith(f"-{explanation.tokens_saved} tokens (est.): ")


def test_the_compressed_request_keeps_code_numbers_ids_and_the_question() -> None:
    request = openai_request()
    original = copy.deepcopy(request.body)
    sent, _ = compress(request, ON)
    assert request.body == original  # the app's request is never modified
    system = sent.body["messages"][0]["content"]
    user = sent.body["messages"][1]["content"]
    assert CODE in system  # code blocks verbatim, blank lines and spaces included
    assert system.startswith("You are a helpful assistant.\n\n" + RULE)
    minified = '{"order":"INV-2024-0042","total":1.50,"items":[1,2]}'
    assert user == f"Here is the order:\n\n{minified}\n\nWhat is the total?"
    assert sent.body["messages"][2:] == original["messages"][2:]


def test_the_edited_body_shares_what_it_did_not_change() -> None:
    request = openai_request(tools=[{"type": "function", "function": {"name": "f"}}])
    sent, _ = compress(request, ON)
    assert sent.body is not request.body
    assert sent.body["tools"] is request.body["tools"]
    assert sent.body["messages"] is not request.body["messages"]


def test_a_small_prompt_is_left_untouched() -> None:
    request = openai_request()
    sent, explanation = compress(request, CompressSettings(enabled=True))  # 2,000 tokens
    assert sent is request
    assert explanation.skipped == "under 2000 tokens"
    assert explanation.summary() == "skipped: under 2000 tokens"
    big = openai_request(system=SYSTEM + "\n\n" + "Context line number one is here. " * 300)
    assert compress(big, CompressSettings(enabled=True))[0] is not big


def test_few_shot_examples_are_trimmed_to_the_closest_only_when_asked() -> None:
    examples = "".join(
        f"<example>\nQ: {q}\nA: {a}\n</example>\n"
        for q, a in [
            ("How do I reset my password?", "Use the reset link."),
            ("What is the refund window?", "Refunds take 14 days."),
            ("Can I change my shipping address?", "Yes, before dispatch."),
            ("How long do refunds take to arrive?", "About 5 business days."),
        ]
    )
    request = openai_request(
        system="Answer support questions.\n\n" + examples, user="When will my refund arrive?"
    )
    assert compress(request, ON)[0].body["messages"][0]["content"].count("<example>") == 4
    sent, explanation = compress(
        request, CompressSettings(enabled=True, min_tokens=0, max_examples=2)
    )
    system = sent.body["messages"][0]["content"]
    assert system.count("<example>") == 2
    assert "refund window" in system and "refunds take to arrive" in system
    dropped = [r for r in explanation.removals if r.transform == "example"]
    assert len(dropped) == 2 and "password" in dropped[0].removed + dropped[1].removed
    assert all("not among the 2 closest" in r.why for r in dropped)


def test_markdown_example_sections_count_as_examples() -> None:
    system = (
        "# Task\nClassify tickets.\n\n## Example 1\nTicket: printer jams daily\nLabel: hardware"
        "\n\n## Example 2\nTicket: cannot log in to email\nLabel: account\n\n## Rules\nBe brief."
    )
    request = openai_request(system=system, user="My email login fails")
    sent, _ = compress(request, CompressSettings(enabled=True, min_tokens=0, max_examples=1))
    kept = sent.body["messages"][0]["content"]
    assert "Example 2" in kept and "Example 1" not in kept and "## Rules\nBe brief." in kept


def test_earlier_text_never_depends_on_later_turns() -> None:
    # The first occurrence is kept, so the prefix (and the provider's cache) stays stable.
    short = openai_request(user="First question?")
    longer = openai_request(user="First question?")
    longer.body["messages"] += [
        {"role": "assistant", "content": "An answer."},
        {"role": "user", "content": f"{RULE}\n\n{PARAGRAPH}\n\nAnd another?"},
    ]
    a, _ = compress(short, ON)
    b, _ = compress(longer, ON)
    assert b.body["messages"][:2] == a.body["messages"][:2]
    assert b.body["messages"][3]["content"] == "And another?"
    assert b.body["messages"][2] is longer.body["messages"][2]  # assistant turns untouched


def test_a_text_that_only_repeats_is_kept_whole() -> None:
    request = openai_request(system=f"{PARAGRAPH}\n\n{RULE}", user=f"{PARAGRAPH}\n{RULE}")
    sent, explanation = compress(request, ON)
    assert sent.body["messages"][1]["content"] == f"{PARAGRAPH}\n{RULE}"
    assert all(r.where != "message 2" for r in explanation.removals)


MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("openai", {"messages": []}, "no messages"),
    ("openai", {"messages": [{"role": "user", "content": ""}]}, "message 1 is empty"),
    ("openai", {"messages": ["hi"]}, "message 1 has no known role"),
    ("openai", {"messages": [{"role": "wizard", "content": "x"}]}, "message 1 has no known role"),
    (
        "openai",
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "tool", "tool_call_id": "c1", "content": "{}"},
            ]
        },
        "message 2 has a tool result without its call",
    ),
    (
        "anthropic",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
                }
            ]
        },
        "message 1 has a tool result without its call",
    ),
    (
        "openai",
        {"messages": [{"role": "user", "content": "word " * 200_001}]},
        "message 1 is oversized",
    ),
    (  # Anthropic refuses an empty message anywhere but the final assistant prefill
        "anthropic",
        {
            "messages": [
                {"role": "user", "content": "x " * 50},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": "y " * 50},
            ]
        },
        "message 2 is empty",
    ),
    (
        "anthropic",
        {
            "messages": [
                {"role": "user", "content": "x " * 50},
                {"role": "assistant", "content": []},
                {"role": "user", "content": "y " * 50},
            ]
        },
        "message 2 is empty",
    ),
]


@pytest.mark.parametrize(
    ("dialect", "messages"),
    [
        (  # the final assistant message may be empty (a prefill to continue from)
            "anthropic",
            [{"role": "user", "content": "x " * 50}, {"role": "assistant", "content": ""}],
        ),
        (  # OpenAI takes an empty assistant message (content null beside tool_calls, or "")
            "openai",
            [
                {"role": "user", "content": "x " * 50},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": "y " * 50},
            ],
        ),
    ],
)
def test_an_empty_assistant_message_the_api_takes_is_not_malformed(
    dialect: str, messages: list[dict[str, Any]]
) -> None:
    request = request_for("gpt-4o" if dialect == "openai" else "claude-haiku-4-5", dialect=dialect)  # type: ignore[arg-type]
    request.body["messages"] = messages
    assert wire.problem(request) is None


@pytest.mark.parametrize(("dialect", "body", "why"), MALFORMED)
async def test_a_malformed_conversation_passes_through_unchanged_with_a_warning(
    dialect: str, body: dict[str, Any], why: str
) -> None:
    request = request_for("gpt-4o" if dialect == "openai" else "claude-haiku-4-5", dialect=dialect)  # type: ignore[arg-type]
    request.body.update(body)
    upstream = FakeUpstream()
    response = await compress_stage({None: ON})(upstream)(request)
    assert upstream.requests[0] is request
    assert response.headers["compress"] == "skipped: malformed conversation"
    assert response.headers["compress-warning"].startswith(
        f"malformed conversation, passed through unchanged: {why}"
    )
    assert response.steps == []


def test_tool_results_get_their_json_minified_and_nothing_else() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    request = openai_request()
    request.body["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": f"  Result:\n\n{PAYLOAD}\n\n\n\nDone.  "},
    ]
    sent, _ = compress(request, ON)
    tool = sent.body["messages"][-1]["content"]
    assert (
        tool == '  Result:\n\n{"order":"INV-2024-0042","total":1.50,"items":[1,2]}\n\n\n\nDone.  '
    )


@pytest.mark.parametrize("build", [openai_request, anthropic_request])
def test_compressed_requests_pass_the_simulators_validation(build: Any) -> None:
    request = build()
    sent, explanation = compress(request, ON)
    assert explanation.removals
    validator = AnthropicDialect() if request.dialect == "anthropic" else OpenAIDialect()
    validator.prepare(request.body)
    validator.prepare(sent.body)
    assert _shape(sent.body) == _shape(request.body)  # only texts changed
    if request.dialect == "anthropic":
        assert sent.body["system"][0]["cache_control"] == {"type": "ephemeral"}


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, str):
        assert value.strip(), "no text may be emptied"
        return str
    return value


async def test_the_stage_books_the_tokens_it_removed_on_the_requested_model() -> None:
    upstream = FakeUpstream(
        lambda req: reply(req, "ok", Usage(input_tokens=1000, output_tokens=200))
    )
    request = openai_request()
    response = await compress_stage({None: ON, "raw": None})(upstream)(request)
    saved = explain(request, ON).tokens_saved
    assert upstream.requests[0].body != request.body
    (step,) = response.steps
    assert step.lever == "compress" and step.tokens is not None
    assert step.tokens.input_tokens == -saved
    assert response.headers["compress"] == step.detail
    settled = accountant().settle(request, response)
    # gpt-4o: $2.50 per million input tokens; the removed tokens priced on that rate
    assert settled.savings == {"compress": Decimal(saved) * Decimal("2.5") / 1_000_000}

    raw = request_for("gpt-4o", task="raw")
    assert (await compress_stage({None: ON, "raw": None})(upstream)(raw)).headers == {}
    assert upstream.requests[-1] is raw


async def test_a_request_answered_without_a_call_books_no_tokens() -> None:
    def cached(req: ChatRequest) -> Any:
        response = reply(req)
        response.served = None
        return response

    response = await compress_stage({None: ON})(FakeUpstream(cached))(openai_request())
    assert response.steps == [] and response.headers["compress"].startswith("-")


async def test_the_lever_is_off_unless_enabled() -> None:
    from thrifty.levers.fewer_tokens.compress.stage import build

    class Parts:
        settings = Settings()

    assert await build(Parts()) is None  # type: ignore[arg-type]

    class On:
        settings = Settings(tasks={"long": {"compress": {"enabled": True}}})

    assert await build(On()) is not None  # type: ignore[arg-type]


def test_other_operations_are_not_compressed() -> None:
    request = openai_request()
    from dataclasses import replace

    embeddings = replace(request, api="embeddings")
    assert compress(embeddings, ON) == (embeddings, explain(embeddings, ON))
    assert explain(embeddings, ON).skipped == "not a chat request"


def test_the_memo_gives_what_compressing_afresh_gives() -> None:
    memo = CompressionMemo()
    first = compress(openai_request(user=f"{RULE}\nFirst?"), ON, memo)
    assert (memo.hits, memo.misses, len(memo)) == (0, 2, 2)
    again = compress(openai_request(user=f"{RULE}\nSecond?"), ON, memo)
    assert (memo.hits, memo.misses) == (1, 3)  # the system prompt: a hit
    fresh = compress(openai_request(user=f"{RULE}\nSecond?"), ON)
    assert again[0].body == fresh[0].body and again[1] == fresh[1]
    assert again[0].body["messages"][1]["content"] == "Second?"  # repeats known from the hit
    assert first[1].removals[0] == again[1].removals[0]
    other = compress(openai_request(system=SYSTEM + " More."), ON, memo)
    assert memo.misses == 5 and other[0].body != first[0].body


def test_the_memo_is_bounded_by_the_characters_it_holds() -> None:
    memo = CompressionMemo(max_chars=3 * len(SYSTEM))
    for n in range(5):
        compress(openai_request(system=f"{SYSTEM}\n\nVariant {n}.", user="Hi?"), ON, memo)
    assert memo.held <= memo.max_chars and len(memo) < 10
    with pytest.raises(ValueError):
        CompressionMemo(max_chars=0)


def test_estimated_tokens_err_low_for_whitespace() -> None:
    # Runs of blanks cost a tokenizer far less than 4 characters a token.
    request = openai_request(system="Be brief." + " " * 90 + "Be kind.", user="Hi?")
    explanation = explain(request, ON)
    (removal,) = explanation.removals
    assert removal.chars == 89 and removal.tokens == 89 // 10 == explanation.tokens_saved


def test_html_comments_go_unless_they_hold_protected_text() -> None:
    from thrifty.levers.fewer_tokens.compress.text import normalise

    assert normalise("Keep this.<!-- a note for editors --> And this.") == "Keep this. And this."
    kept = "Keep this. <!-- see https://example.com/a and 'Agent Prompt' --> And this."
    assert normalise(kept) == kept
    assert normalise("A\u200bB\u00a0C  D") == "AB C D"
    assert normalise("Order INV\u200b-42 ships") == "Order INV-42 ships"
    assert normalise("  \n    \n\nText\n      \n") == "Text"  # blank lines are not code
