"""The fast counters (fastokens, bpe-openai's tokenizer) give tiktoken's counts, to the
token, in both encodings and on any text; the counter uses the fastest; loading them does
not import the bpe-openai package."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thrifty.tokens import ENCODINGS, EncodingName, TokenCounter
from thrifty.tokens.counting import bpe_openai_count, fastokens_count, load_count
from thrifty.tokens.encodings import CountTokens

RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=500)

# The characters each pre-tokenizer rule turns on: letters of every case class, marks,
# digits of several scripts, contractions, blanks of every kind, line breaks, slashes,
# punctuation runs, special-token text, surrogates.
BITS = st.sampled_from(
    [
        "a",
        "Z",
        "word",
        "WORD",
        "Ǆ",
        "ǅ",
        "\u0301",
        "é",
        "日本",
        "😀",
        "1",
        "12345",
        "٣",
        "Ⅷ",
        "'s",
        "'LL",
        "'re",
        " ",
        "   ",
        "\t",
        "\u00a0",
        "\u2028",
        "\u3000",
        "\x1c",
        "\n",
        "\r\n",
        "\n\n",
        "/",
        "//",
        ".",
        "...",
        "-",
        "----------",
        "#",
        "```",
        "{",
        '"',
        "<|endoftext|>",
        "<|endofprompt|>",
        "https://example.com/a?b=1",
        "─",
        "──────",
        "→",
        "•",
        "—",
        "…",
        "«",
        "¿",
        "✓",
        "│",
        "\u200b",
    ]
)


# Blanks then non-ASCII punctuation: another fast tokenizer counted the first as 1 token
# (tiktoken: 8), so every such shape is pinned here.
BLANKS_THEN_PUNCTUATION = [
    "  " + "─" * 69,
    " " + "─" * 69,
    "\n  " + "─" * 40 + "\n",
    "\t\t" + "═" * 30,
    "   → next",
    "  • item\n  • item",
    "\u00a0\u00a0—\u00a0",
    "    │   ├── src\n    │   └── tests",
    "  「引用」",
    "  …and so on",
]
SPECIAL_TEXT = ["<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>x<|fim_suffix|>"]
EDGES = [
    "",
    " ",
    "\n",
    "a" * 20_000,  # one very long pre-token
    "1" * 9_999,
    "!" * 10_000,
    " " * 10_000 + "x",
    "😀" * 3_000,
    "before \ud800 after \udfff",  # lone surrogates
    "\ud83d",
]


def _fast_counters() -> list[tuple[str, EncodingName, CountTokens]]:
    found: list[tuple[str, EncodingName, CountTokens]] = []
    for name in ENCODINGS:
        for label, loader in (("fastokens", fastokens_count), ("bpe-openai", bpe_openai_count)):
            count = loader(name)
            assert count is not None, f"{label} is a dev dependency"
            found.append((label, name, count))
    return found


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter()


@pytest.fixture(scope="module")
def fast_counters() -> list[tuple[str, EncodingName, CountTokens]]:
    return _fast_counters()


def _assert_tiktokens(
    counter: TokenCounter, fast_counters: list[tuple[str, EncodingName, CountTokens]], text: str
) -> None:
    for label, name, count in fast_counters:
        expected = len(counter.encoding(name).encode_ordinary(text))
        assert count(text) == expected, (label, name, text[:80])


@RELAXED
@given(st.lists(BITS, max_size=60).map("".join))
def test_counts_are_tiktokens_on_every_rule(
    counter: TokenCounter, fast_counters: list[tuple[str, EncodingName, CountTokens]], text: str
) -> None:
    _assert_tiktokens(counter, fast_counters, text)


@RELAXED
@given(st.text(max_size=200))
def test_counts_are_tiktokens_on_any_text(
    counter: TokenCounter, fast_counters: list[tuple[str, EncodingName, CountTokens]], text: str
) -> None:
    _assert_tiktokens(counter, fast_counters, text)


@pytest.mark.parametrize("text", BLANKS_THEN_PUNCTUATION + SPECIAL_TEXT + EDGES)
def test_counts_are_tiktokens_on_known_hard_cases(
    counter: TokenCounter, fast_counters: list[tuple[str, EncodingName, CountTokens]], text: str
) -> None:
    _assert_tiktokens(counter, fast_counters, text)


def test_the_blanks_before_box_drawing_case_is_eight_tokens(
    fast_counters: list[tuple[str, EncodingName, CountTokens]],
) -> None:
    for label, name, count in fast_counters:
        if name == "o200k_base":
            assert count("  " + "─" * 69) == 8, label


def test_special_token_text_is_counted_as_text(
    fast_counters: list[tuple[str, EncodingName, CountTokens]],
) -> None:
    for label, _, count in fast_counters:
        assert count("<|endoftext|>") == 7, label  # not the one special token


def test_the_counter_counts_with_fastokens(counter: TokenCounter) -> None:
    text = "A sentence to count.\n" * 40
    tokens = counter.count_text("gpt-4o", text).tokens
    assert tokens == len(counter.encoding("o200k_base").encode_ordinary(text))
    assert counter.counting("o200k_base") is counter.counting("o200k_base")  # loaded once


def test_load_count_prefers_fastokens_and_does_not_import_bpe_openai() -> None:
    """Importing ``bpe_openai`` reads every encoding it knows into dictionaries (seconds,
    ~150 MB): counting never imports it, nor fastokens before the first count."""
    code = (
        "import sys; import thrifty.tokens, thrifty.tokens.counting; "
        "assert 'fastokens' not in sys.modules; "
        "from thrifty.tokens.counting import load_count; "
        "assert load_count('o200k_base')('hello world') == 2; "
        "assert 'fastokens' in sys.modules; "
        "assert 'bpe_openai._bindings' not in sys.modules; "
        "assert 'bpe_openai' not in sys.modules, sorted(m for m in sys.modules if 'bpe' in m); "
        "import bpe_openai; print(bpe_openai.get_encoding('o200k_base').encode('hello world'))"
    )
    assert _run(code) == "[24912, 2375]"  # the package still imports after it


def test_without_fastokens_counting_falls_back_to_bpe_openai() -> None:
    code = (
        "import sys; sys.modules['fastokens'] = None; "
        "from thrifty.tokens.counting import fastokens_count, load_count; "
        "assert fastokens_count('o200k_base') is None; "
        "assert load_count('o200k_base')('hello world') == 2; "
        "assert 'bpe_openai._bindings' in sys.modules; "
        "assert 'bpe_openai' not in sys.modules; print('ok')"
    )
    assert _run(code) == "ok"


def test_loading_leaves_no_ranks_file_behind(tmp_path: Path) -> None:
    code = (
        "from thrifty.tokens.counting import fastokens_count; "
        "assert fastokens_count('cl100k_base') is not None; print('ok')"
    )
    assert _run(code, env_tmp=str(tmp_path)) == "ok"
    assert list(tmp_path.iterdir()) == []


def test_the_fast_counters_come_warm() -> None:
    """fastokens compiles its pattern on its first count (~0.15 s of CPU): that is paid
    at load, not by the first request."""
    for loader in (fastokens_count, bpe_openai_count):
        count = loader("cl100k_base")
        assert count is not None
        start = time.thread_time()
        count("A first text, with words, 123 numbers and\n lines.")
        assert time.thread_time() - start < 0.03


def test_a_process_loads_each_encoding_once() -> None:
    """A fastokens tokenizer is ~150 MB and ~2.5 s to load, and its fastest cache is per
    thread for one tokenizer at a time: every counter of a process uses the same one."""
    assert load_count("o200k_base") is load_count("o200k_base")
    assert TokenCounter().counting("o200k_base") is TokenCounter().counting("o200k_base")
    assert load_count("cl100k_base") is not load_count("o200k_base")


def _run(code: str, env_tmp: str | None = None) -> str:
    env = dict(os.environ)
    if env_tmp is not None:
        env["TMPDIR"] = env_tmp
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
