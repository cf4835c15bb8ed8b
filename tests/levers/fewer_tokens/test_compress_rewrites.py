"""The compression's quicker passes give exactly what the passes they replaced gave: those
are kept here, as they were, and both run on generated prompts.

* the line clean-up looks only at the lines that can change (not at every line), and
  looks for code and quotes only in a line that holds a character opening one;
* decorative rules are found by one search from the line breaks, the first line matched
  alone (not by an expression over a copy of the text with a line break put in front);
* blank lines are collapsed only when the text holds three line breaks in a row, as runs
  of line breaks (no line is blanks alone by then);
* the odd characters are looked for one by one, and replaced so (not with a character
  class);
* protected spans are masked with one placeholder and put back in order, with ``map``,
  a join and a split (not numbered, span by span, and put back by number);
* deduplication's coarse keys fold each chunk alone and take the lines from the chunks
  (not the whole text folded, then split twice), and keep the lines that end like a
  sentence only (not every line);
* a message too short to be oversized is not serialised to be measured;
* what deduplication knows is sized for a memo from its texts' key sizes, kept (not
  summed again over the union of every key so far);
* a sentence's end is read by stripping the closing marks (not with an expression);
* deduplication's full pass reads the lines' ends at C speed and asks the code lines
  whether a paragraph meets them (not line by line).
* JSON paragraphs are found from the openers that start a line (the text is not split
  into paragraphs, nor each one stripped).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.compress import dedupe, dedupe_keys, json_text, wire
from thrifty.levers.fewer_tokens.compress import text as transforms
from thrifty.levers.fewer_tokens.compress.report import Removal
from thrifty.levers.fewer_tokens.compress.spans import code_and_quotes, fences, merged
from thrifty.testing import request_for

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=600)

# --- the passes replaced, as they were -------------------------------------------------

_ODD = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_SEPARATOR = re.compile(r"\n {0,3}([-=*_])\1{3,}[ \t]*(?=\n|\Z)")
_SEPARATOR_HINTS = ("----", "====", "****", "____")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def tidy_line_before(body: str) -> str:
    spans = code_and_quotes(body)
    if not spans:
        return transforms._BLANKS.sub(" ", body).rstrip(" \t")
    pieces: list[str] = []
    at = 0
    for start, end in spans:
        pieces.append(transforms._BLANKS.sub(" ", body[at:start]))
        pieces.append(body[start:end])
        at = end
    pieces.append(transforms._BLANKS.sub(" ", body[at:]).rstrip(" \t"))
    return "".join(pieces)


def cleaned_before(text: str, deleting: bool) -> str:
    if deleting:
        text = transforms._INVISIBLE.sub("", text)
        text = _ODD_SPACES.sub(" ", text)
        text = transforms.without(text, transforms.html_comments(text, unless="\ue000"))
    if any(hint in text for hint in _SEPARATOR_HINTS):
        text = _SEPARATOR.sub(lambda m: "\n" + m.group(1) * 3, "\n" + text)[1:]
    if "  " in text or "\t" in text or " \n" in text or text[-1:] in (" ", "\t"):
        lines = text.split("\n")
        for index, line in enumerate(lines):
            body = line.lstrip(" \t")
            if not body:
                lines[index] = ""
            elif ("  " in body or "\t" in body or body[-1] in " \t") and not (
                transforms._is_code_line(line)
            ):
                lines[index] = line[: len(line) - len(body)] + tidy_line_before(body)
        text = "\n".join(lines)
    text = _BLANK_LINES.sub("\n\n", text)
    rest = text.lstrip(" \t\n")
    first_line = text.rfind("\n", 0, len(text) - len(rest)) + 1
    return text[first_line:].rstrip()


def masked_before(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[str]]:
    if not spans:
        return text, []
    pieces: list[str] = []
    kept: list[str] = []
    at = 0
    for start, end in spans:
        pieces.append(text[at:start])
        pieces.append(f"\ue000{len(kept)}\ue001")
        kept.append(text[start:end])
        at = end
    pieces.append(text[at:])
    return "".join(pieces), kept


def normalise_before(text: str) -> str:
    deleting = "<!--" in text or (not text.isascii() and _ODD.search(text) is not None)
    if not deleting and not transforms._untidy(text):
        return text
    if not text.strip() or "\ue000" in text or "\ue001" in text:
        return text
    if deleting:
        every_token = transforms._deletable_tokens(text, invisible=True)
        spans = merged(code_and_quotes(text) + every_token)
    else:
        spans = fences(text)
    masked, kept = masked_before(text, spans)
    out = cleaned_before(masked, deleting)
    if kept:
        out = re.sub("\ue000(\\d+)\ue001", lambda m: kept[int(m.group(1))], out)
    return out if out.strip() else text


def minify_json_before(text: str) -> str:
    if not any(text[at] == "{" for at in json_text._line_openers(text)) and not any(
        text[at] == "[" for at in json_text._line_openers(text)
    ):
        return text
    stripped = text.strip()
    if json_text._is_json(stripped):
        return json_text._minified(stripped)
    pieces = _PARAGRAPH_BREAK.split(text)
    if len(pieces) == 1:
        return text
    separators = _PARAGRAPH_BREAK.findall(text)
    changed = False
    out: list[str] = []
    for index, piece in enumerate(pieces):
        body = piece.strip()
        if json_text._is_json(body):
            lead = piece[: len(piece) - len(piece.lstrip())]
            piece = lead + json_text._minified(body)
            changed = True
        out.append(piece)
        if index < len(separators):
            out.append(separators[index])
    joined = "".join(out)
    return joined if changed else text


def keys_before(text: str) -> tuple[frozenset[str], frozenset[str]] | None:
    folded = text.casefold()
    chunks = Counter(map(str.strip, dedupe_keys._CHUNK_BREAK.split(folded)))
    if dedupe_keys._any_paragraph(k for k, n in chunks.items() if n > 1):
        return None
    lines = Counter(map(str.strip, folded.split("\n")))
    if dedupe_keys._any_instruction(k for k, n in lines.items() if n > 1):
        return None
    return frozenset(chunks), frozenset(lines)


# --- generated prompts -----------------------------------------------------------------

MARKUP = st.sampled_from(
    [
        " ",
        "  ",
        "   ",
        "    ",
        "\t",
        "\n",
        "\n\n",
        "\n\n\n",
        "\n \n",
        "\r",
        "\x0b",
        "Word",
        "rule.",
        "a",
        "```",
        "~~~",
        "~",
        "`x  y`",
        ">",
        '"q  q"',
        "'s",
        "----",
        "-",
        "====",
        "****",
        "*",
        "____",
        "_",
        "  ---- ",
        "<!--",
        "-->",
        "<b>",
        "\u00a0",
        "\u2003",
        "\u3000",
        "\u200b",
        "\u2060",
        "\ufeff",
        "\ue000",
        "\ue001",
        "1.5",
        "user42",
        "https://x.io/a  b",
        "ß",
        "\u201cq  q\u201d",
        "\u2018q  q\u2019",
        " 'q  q' ",
        "\n \t> q  q",
    ]
)
PROSE = st.lists(MARKUP, max_size=60).map("".join)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=' ab"\\\n\t{}[]', max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet="ab ", max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
JSON_TEXT = st.builds(
    lambda value, indent: json.dumps(value, indent=indent),
    st.one_of(st.lists(JSON_VALUES, max_size=3), st.dictionaries(st.text(max_size=3), JSON_VALUES)),
    st.sampled_from([None, 1, 2, "\t"]),
)
PARAGRAPH = st.one_of(
    JSON_TEXT,
    JSON_TEXT.map(lambda t: "  " + t + " \n"),
    JSON_TEXT.map(lambda t: t[:-1]),  # broken JSON
    st.sampled_from(["{", "[", "[ ] task", "{name}", "x {", "\u00a0[1, 2]", "text"]),
    PROSE,
)
BREAK = st.sampled_from(["\n", "\n\n", "\n \n", "\n\t\n\n", "\n\n\n", " \n\n ", "\r\n\r\n"])


@st.composite
def documents(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(PARAGRAPH, BREAK), max_size=6))
    return draw(st.sampled_from(["", " ", "\n"])) + "".join(p + b for p, b in parts)


# --- the same results ------------------------------------------------------------------


@RELAXED
@given(PROSE, st.booleans())
def test_the_clean_up_is_the_one_it_replaced(text: str, deleting: bool) -> None:
    invisibles = "".join(filter(text.__contains__, transforms._INVISIBLES))
    odd_spaces = "".join(filter(text.__contains__, transforms._ODD_SPACE_CHARS))
    expected = cleaned_before(text, deleting)
    every_kind = (transforms._INVISIBLES, transforms._ODD_SPACE_CHARS)
    assert transforms._cleaned(text, deleting, *every_kind) == expected
    assert transforms._cleaned(text, deleting, invisibles, odd_spaces) == expected


@RELAXED
@given(st.one_of(PROSE, documents()))
def test_normalisation_is_the_one_it_replaced(text: str) -> None:
    assert transforms.normalise(text) == normalise_before(text)


@RELAXED
@given(documents())
def test_minification_is_the_one_it_replaced(text: str) -> None:
    assert transforms.minify_json(text) == minify_json_before(text)


def test_the_generated_prompts_hold_what_the_passes_act_on() -> None:
    """The strategies reach the cases that matter (else the checks above prove little)."""
    changed = [
        "a  b \n\n\n\n  ---- \n\u00a0x\u200by\n<!-- c -->",
        '{\n  "a": [1, 2]\n}\n\ntext\n\n  [\n 1\n]  \n\n{ broken',
    ]
    assert normalise_before(changed[0]) != changed[0]
    assert transforms.normalise(changed[0]) == normalise_before(changed[0])
    assert minify_json_before(changed[1]) != changed[1]
    assert transforms.minify_json(changed[1]) == minify_json_before(changed[1])


@RELAXED
@given(PROSE, st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)), max_size=8))
def test_masking_is_the_one_it_replaced(text: str, cuts: list[tuple[int, int]]) -> None:
    """The same masking but for the placeholders' numbers (spans are put back in order)."""
    spans = merged([(min(a, len(text)), min(a + n, len(text))) for a, n in cuts])
    masked, kept = transforms._masked(text, spans)
    numbered, kept_before = masked_before(text, spans)
    assert kept == kept_before
    if "\ue000" not in text and "\ue001" not in text:  # (normalise leaves such a text)
        assert masked == re.sub("\ue000\\d+\ue001", "\ue000\ue001", numbered)
        assert transforms._unmasked(masked, kept) == text


DEDUPE_LINES = st.sampled_from(
    [
        "Always answer in English and be brief.",
        "ALWAYS answer in ENGLISH and be BRIEF.",
        "  always answer in english and be brief.  ",
        "A paragraph line that is long enough to count as a paragraph",
        "A PARAGRAPH LINE THAT IS LONG ENOUGH TO COUNT AS A PARAGRAPH",
        "Stra\u00dfe und Stra\u00dfe und mehr und mehr.",
        "STRASSE UND STRASSE UND MEHR UND MEHR.",
        "\u212a is the kelvin sign, not a k at all.",
        "k is the kelvin sign, not a k at all.",
        "short.",
        "",
        " ",
        "\t",
        "\r",
        "\x0b",
        "\x85",
        "\u2028",
        "\u3000",
        "\u00a0x",
    ]
)


@RELAXED
@given(st.lists(DEDUPE_LINES, max_size=14).map("\n".join))
def test_the_coarse_keys_are_the_ones_they_replace(text: str) -> None:
    keys, expected = dedupe_keys._Keys.of(text), keys_before(text)
    assert (keys is None) == (expected is None)
    if keys is not None and expected is not None:
        assert set(keys.paragraphs) == expected[0]
        # only the lines that end like a sentence (an instruction's key must)
        assert set(keys.lines) == {k for k in expected[1] if k.endswith(dedupe_keys._ENDS)}


def test_json_writes_a_character_in_at_most_six_bytes() -> None:
    """What lets a short message go unmeasured (checked on every character)."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        try:
            size = len(orjson.dumps(char))
        except TypeError:  # a surrogate: the message is measured as its text
            size = len(char)
        assert size <= 6 + 2, hex(code)


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_a_message_at_the_size_limit_is_told_oversized_as_before(extra: int) -> None:
    request = request_for("gpt-4o")
    content = "\x1f" * (wire._SURELY_NOT_OVERSIZED + extra)  # 6 bytes a character
    request.body["messages"] = [{"role": "user", "content": content}]
    size = len(orjson.dumps(content))
    expected = None
    if wire.estimate_tokens(size) > wire.MAX_MESSAGE_TOKENS:
        expected = f"message 1 is oversized (~{wire.estimate_tokens(size):,} tokens)"
    assert wire.problem(request) == expected
    assert (expected is not None) == (extra > 0)  # the limit is the last size never over


@RELAXED
@given(st.lists(st.lists(DEDUPE_LINES, max_size=10).map("\n".join), max_size=4))
def test_a_snapshots_size_is_at_least_what_it_holds(texts: list[str]) -> None:
    seen = dedupe.NOTHING_SEEN
    for index, text in enumerate(texts):
        deduper = dedupe.Deduper(seen)
        deduper.text(text, f"message {index + 1}")
        seen = deduper.seen()
        keys = (seen.keys.paragraphs, seen.keys.lines)
        held = 2 * sum(sum(map(len, k)) for k in keys)
        held += sum(sum(map(len, k)) for k in (seen.paragraphs, seen.lines))
        assert held <= seen.chars  # the size it had before: every key once
        if index == 0:
            assert held == seen.chars  # one text: no key counted twice


_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")


def is_instruction_before(line: str) -> bool:
    stripped = line.strip()
    return (
        stripped[-1:] in dedupe_keys._ENDINGS
        and _SENTENCE_END.search(stripped) is not None
        and stripped[0] != "|"
        and len(stripped.split()) >= dedupe_keys.MIN_WORDS
        and dedupe_keys._LABEL.match(stripped) is None
    )


def any_instruction_before(keys: list[str]) -> bool:
    return any(
        len(key) >= dedupe_keys.MIN_INSTRUCTION
        and key[-1] in dedupe_keys._ENDINGS
        and key[0] != "|"
        and _SENTENCE_END.search(key) is not None
        and len(key.split()) >= dedupe_keys.MIN_WORDS
        for key in keys
    )


SENTENCE_BITS = st.sampled_from(
    ["a", "word ", " ", ".", "!", "?", '"', "'", ")", "]", "(", "|", "\n", "\t", "Input:", "x."]
)


@RELAXED
@given(st.lists(SENTENCE_BITS, max_size=16).map("".join))
def test_a_sentences_end_is_read_as_the_expression_read_it(line: str) -> None:
    assert dedupe_keys._is_instruction(line) == is_instruction_before(line)
    key = line.strip()
    assert dedupe_keys._any_instruction([key]) == any_instruction_before([key])


class DeduperBefore(dedupe.Deduper):
    """The full pass as it was."""

    def _full(self, text: str, where: str) -> str:
        paragraphs = self._paragraphs
        assert paragraphs is not None
        lines = text.split("\n")
        code = dedupe._code_lines(text, fences(text))
        candidates = {
            i
            for i, line in enumerate(lines)
            if line.rstrip().endswith(dedupe_keys._ENDS)
            and line.count(" ") >= dedupe_keys.MIN_WORDS - 1
        }
        removed: set[int] = set()
        found: list[Removal] = []
        for first, last in dedupe._paragraphs(lines, code):
            block = range(first, last + 1)
            holds_code = bool(code) and any(i in code for i in block)
            if not holds_code:
                joined = "\n".join(lines[first : last + 1])
                key = dedupe_keys._key(joined)
                if len(key) >= dedupe_keys.MIN_PARAGRAPH:
                    seen = paragraphs.get(key)
                    if seen is not None:
                        found.append(dedupe._removal("duplicate_paragraph", joined, where, seen))
                        removed.update(block)
                        dedupe._drop_separator(lines, removed, first, last)
                        continue
                    paragraphs[key] = where
            cut = 0
            for index in block:
                if index not in candidates or index in code:
                    continue
                if self._repeats(lines[index], where, found):
                    removed.add(index)
                    cut += 1
            if cut == len(block):
                dedupe._drop_separator(lines, removed, first, last)
        if (
            not found
            or len(removed) == len(lines)
            or all(not line.strip() for i, line in enumerate(lines) if i not in removed)
        ):
            return text
        self.removals.extend(found)
        return "\n".join(line for i, line in enumerate(lines) if i not in removed)


FULL_PASS_LINES = st.one_of(
    DEDUPE_LINES,
    st.sampled_from(
        [
            "```",
            "~~~~",
            "print('x')  # a line of code, five words.",
            "| a | b |.",
            "Be brief and stay kind.",  # five words: the fewest an instruction has
            "BE BRIEF AND STAY KIND.",
            "Be brief and kind.",
        ]
    ),
)


@RELAXED
@given(st.lists(st.lists(FULL_PASS_LINES, max_size=12).map("\n".join), min_size=1, max_size=4))
def test_the_full_deduplication_pass_is_the_one_it_replaced(texts: list[str]) -> None:
    results = []
    for kind in (dedupe.Deduper, DeduperBefore):
        outs: list[str] = []
        removals: list[Removal] = []
        seen = dedupe.NOTHING_SEEN
        for index, text in enumerate(texts):
            deduper = kind(seen)
            deduper._learn()
            outs.append(deduper._full(text, f"message {index + 1}"))
            removals += deduper.removals
            seen = deduper.seen()
        results.append((outs, removals, dict(seen.paragraphs), dict(seen.lines)))
    assert results[0] == results[1]
