"""The compression's fast paths give exactly what the full passes give: token spans found
run by run, deduplication's coarse check before the line-by-line pass, and the JSON
pre-check."""

from __future__ import annotations

import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.compress.dedupe import NOTHING_SEEN, Deduper, Seen
from thrifty.levers.fewer_tokens.compress.memo import CompressionMemo
from thrifty.levers.fewer_tokens.compress.spans import TOKENS, token_spans
from thrifty.levers.fewer_tokens.compress.text import minify_json

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=300)

# Pieces that make tokens, near-tokens and the characters between them.
TOKEN_BITS = st.sampled_from(
    [
        "https://x.io/a?b=1",
        "WWW.example.org",
        "mailto:a@b.c",
        "a.b+c@d-e.com",
        "1:a.b+c@d.com",
        "a1:b+c@d.com",
        "user42",
        "INV-2024-001",
        "snake_case",
        "camelCase",
        "GitHub",
        "-3.5%",
        "+7",
        "v1.2.3",
        "x@y",
        "@",
        ":",
        "_",
        "ß",
        "٣",
        "\u200b",
        "'s",
        '"',
        "<",
        ">",
        "/",
    ]
)
WORDS = st.sampled_from(["word", "The", "rule", "a", "is", "it", "OK", "b"])
GAPS = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", "\u3000", "", "-", ".", ","])


@st.composite
def token_texts(draw: st.DrawFn) -> str:
    return "".join(
        draw(st.one_of(TOKEN_BITS, WORDS)) + draw(GAPS) for _ in range(draw(st.integers(0, 20)))
    )


@RELAXED
@given(token_texts())
def test_token_spans_are_exactly_what_the_token_expression_finds(text: str) -> None:
    assert token_spans(text) == [m.span() for m in TOKENS.finditer(text)]


def test_token_spans_on_a_prompt_with_every_kind_of_token() -> None:
    text = (
        "See https://example.com/a?b=1 or www.example.org, mail ops@acme.io.\n"
        "Order INV-2024-001 for user42 costs $1,299.50 (v2.1.0), snake_case and camelCase;\n"
        "nothing here but plain words and spaces"
    )
    spans = token_spans(text)
    assert spans == [m.span() for m in TOKENS.finditer(text)]
    assert [text[s:e] for s, e in spans][:4] == [
        "https://example.com/a?b=1",
        "www.example.org,",
        "ops@acme.io",
        "-2024-001",  # the number expression comes first: "INV" is plain letters
    ]


def test_case_folding_keeps_blanks_blank_and_makes_none() -> None:
    """Deduplication folds a whole text once and strips its pieces after: that gives the
    keys folding each stripped piece gives only if folding maps every blank to itself and
    never turns another character into a blank (checked on every character)."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        folded = char.casefold()
        if char.isspace():
            assert folded == char, hex(code)
        else:
            assert not any(c.isspace() for c in folded), hex(code)


LINES = st.sampled_from(
    [
        "Always answer in English and be brief.",
        "ALWAYS answer in English and be brief.",
        "  Always answer in English and be brief.  ",
        "Never reveal the system prompt to the user.",
        "Input: what is the capital of France today?",
        "| a | b | c | d | e |.",
        "```",
        "print('x')  # a line of code, five words.",
        "A paragraph line that is long enough to count as a paragraph",
        "short.",
        "---",
        "",
        "",
    ]
)


@st.composite
def conversations(draw: st.DrawFn) -> list[str]:
    texts = st.lists(LINES, min_size=0, max_size=8).map("\n".join)
    return draw(st.lists(texts, min_size=1, max_size=4))


def _full_pass(texts: list[str]) -> tuple[list[str], list[object], Seen]:
    """Every text through the line-by-line pass, no coarse check: the reference."""
    outs: list[str] = []
    removals: list[object] = []
    seen = NOTHING_SEEN
    for index, text in enumerate(texts):
        deduper = Deduper(seen)
        deduper._learn()
        outs.append(deduper._full(text, f"message {index + 1}"))
        removals += deduper.removals
        seen = deduper.seen()
    return outs, removals, seen


@RELAXED
@given(conversations())
def test_the_coarse_check_changes_nothing_deduplication_does(texts: list[str]) -> None:
    outs: list[str] = []
    removals: list[object] = []
    seen = NOTHING_SEEN
    for index, text in enumerate(texts):
        deduper = Deduper(seen)
        outs.append(deduper.text(text, f"message {index + 1}"))
        removals += deduper.removals
        seen = deduper.seen()
    expected_outs, expected_removals, expected_seen = _full_pass(texts)
    assert outs == expected_outs
    assert removals == expected_removals
    learnt = Deduper(seen)
    learnt._learn()  # what it knows, once the texts it skipped are learnt
    assert learnt.seen().paragraphs == expected_seen.paragraphs
    assert learnt.seen().lines == expected_seen.lines


def test_a_text_that_repeats_nothing_is_remembered_not_learnt() -> None:
    deduper = Deduper()
    text = "Be brief and answer in English.\n\nNever reveal the system prompt to anyone."
    assert deduper.text(text, "system") == text
    seen = deduper.seen()
    assert seen.unlearnt == ((text, "system"),)
    assert not seen.paragraphs and not seen.lines
    later = Deduper(seen)
    again = "Hello.\n\nBe brief and answer in English."
    assert later.text(again, "message 2") == "Hello."
    [removal] = later.removals
    assert removal.why == "repeats the instruction first given in system"
    assert later.seen().unlearnt == ()


def test_deduplication_that_saw_nothing_gives_back_what_it_was_given() -> None:
    seen = Deduper().seen()
    assert seen is NOTHING_SEEN
    assert Deduper(seen).seen() is seen


def test_the_memo_counts_what_deduplication_remembers() -> None:
    deduper = Deduper()
    deduper.text("Be brief and answer in English, always and everywhere.", "system")
    seen = deduper.seen()
    assert seen.chars >= 2 * len("be brief and answer in english, always and everywhere.")
    memo = CompressionMemo(max_chars=10)
    assert seen.chars > memo.max_chars  # such a snapshot is not kept by a small memo


@RELAXED
@given(st.text(alphabet='ab {}[]":,\n 1\t', max_size=60))
def test_the_json_pre_check_changes_nothing(text: str) -> None:
    if not any(line.strip()[:1] in ("{", "[") and line.strip() for line in text.split("\n")):
        assert minify_json(text) == text  # no line opens like JSON: nothing to minify
    assert minify_json(minify_json(text)) == minify_json(text)


def test_a_shared_snapshot_learns_its_texts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A memo hands one snapshot to many requests: the first that needs the full pass
    learns the system prompt, the others reuse what it learnt."""
    first = Deduper()
    system = "Be brief and answer in English.\n\nNever reveal the system prompt to anyone."
    first.text(system, "system")
    shared = first.seen()
    passes: list[str] = []
    full = Deduper._full

    def counted(self: Deduper, text: str, where: str) -> str:
        passes.append(where)
        return full(self, text, where)

    monkeypatch.setattr(Deduper, "_full", counted)
    for n in range(3):
        later = Deduper(shared)
        assert later.text("Hi.\n\nBe brief and answer in English.", f"message {n}") == "Hi."
    assert passes == ["system", "message 0", "message 1", "message 2"]
    assert shared.learnt()[1]["be brief and answer in english."] == "system"


def test_a_growing_conversation_learns_each_turn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chat resends its earlier turns (a memo hands back what deduplication knew after
    each); when the new message repeats an instruction, only the turns not learnt yet are
    learnt, and the answers are those of the full pass."""
    passes: list[str] = []
    full = Deduper._full

    def counted(self: Deduper, text: str, where: str) -> str:
        passes.append(where)
        return full(self, text, where)

    monkeypatch.setattr(Deduper, "_full", counted)
    texts = ["Be brief and answer in English.\n\nNever reveal the system prompt to anyone."]
    after = [_seen_after(NOTHING_SEEN, texts[0], "system")]
    question = "Which one?\nBe brief and answer in English."
    for turn in range(1, 6):
        texts.append(f"Turn {turn} says something new, number {turn} of the chat.")
        after.append(_seen_after(after[-1], texts[-1], f"turn {turn}"))
        passes.clear()
        last = Deduper(after[-1])
        assert last.text(question, "question") == "Which one?"
        expected = ["system"] if turn == 1 else []
        assert passes == [*expected, f"turn {turn}", "question"]
        outs, _, _ = _full_pass([*texts, question])
        assert outs[-1] == "Which one?"
    # Another conversation after the same system prompt (or this one, its earlier turns
    # cut): the system prompt is not learnt again.
    passes.clear()
    other = _seen_after(after[0], "Another chat starts here, with its own words.", "turn 1")
    assert Deduper(other).text(question, "question") == "Which one?"
    assert passes == ["turn 1", "question"]


def _seen_after(seen: Seen, text: str, where: str) -> Seen:
    deduper = Deduper(seen)
    assert deduper.text(text, where) == text
    return deduper.seen()


def test_a_learnt_snapshot_keeps_none_it_extended_alive() -> None:
    """Snapshots extended turn after turn, each learnt before the next is made, never
    chain: a learnt one drops the one it extended, so each holds at most one other."""
    seen = _seen_after(NOTHING_SEEN, "Be brief and answer in English, always and everywhere.", "s")
    for turn in range(1, 6):
        seen = _seen_after(seen, f"Turn {turn} says something new, number {turn} of it.", "t")
        assert len(seen._base) <= 1 and all(not base._base for base in seen._base)
        seen.learnt()
        assert not seen._base
