"""Offline token counts: the bundled encodings are tiktoken's (same ids), the chat framing
is OpenAI's documented one, Claude counts are the stated approximation."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from thrifty.errors import ConfigError
from thrifty.tokens import ANTHROPIC_SCALE, TokenCounter, count_tokens, tokenizer_for
from thrifty.tokens.encodings import SPECS, bundled_file, parse_ranks


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter()


def test_encodings_give_tiktokens_ids(counter: TokenCounter) -> None:
    # Ids from tiktoken's own documentation and test-suite for these encodings.
    assert counter.encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert counter.encoding("o200k_base").encode("hello world") == [24912, 2375]
    assert counter.encoding("o200k_base").n_vocab == 200019
    assert counter.encoding("cl100k_base").n_vocab == 100277


def test_bundled_files_match_the_hash_tiktoken_pins() -> None:
    for name, spec in SPECS.items():
        with gzip.open(bundled_file(name), "rb") as handle:
            ranks = parse_ranks(handle.read(), spec.sha256)
        assert len(ranks) > 100_000


def test_a_tampered_file_is_refused() -> None:
    raw = b"aGVsbG8= 0\n"
    with pytest.raises(ConfigError, match="SHA-256"):
        parse_ranks(raw, SPECS["o200k_base"].sha256)


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"thrifty\[tokens\]"):
        bundled_file("o200k_base")


@pytest.mark.parametrize(
    ("model", "encoding", "exact"),
    [
        ("gpt-4o", "o200k_base", True),
        ("gpt-4o-mini-2024-07-18", "o200k_base", True),
        ("gpt-4.1-nano", "o200k_base", True),
        ("gpt-5", "o200k_base", True),
        ("o3-mini", "o200k_base", True),
        ("openai/gpt-4o", "o200k_base", True),
        ("gpt-4", "cl100k_base", True),
        ("gpt-4-turbo", "cl100k_base", True),
        ("gpt-3.5-turbo", "cl100k_base", True),
        ("text-embedding-3-small", "cl100k_base", True),
        ("claude-sonnet-4-6", "o200k_base", False),
        ("llama-3-8b", "o200k_base", False),
    ],
)
def test_model_to_encoding(model: str, encoding: str, exact: bool) -> None:
    choice = tokenizer_for(model)
    assert (choice.encoding, choice.exact) == (encoding, exact)


def test_plain_text_has_no_framing(counter: TokenCounter) -> None:
    count = count_tokens("gpt-4o", "hello world", counter=counter)
    assert (count.tokens, count.exact, count.method) == (2, True, "o200k_base")
    assert int(count) == 2


def test_chat_framing_is_openais(counter: TokenCounter) -> None:
    # 3 per message + the role ("user": 1) + "hi" (1) + 3 to prime the answer.
    assert count_tokens("gpt-4o", [{"role": "user", "content": "hi"}], counter=counter).tokens == 8
    named = [{"role": "user", "name": "ann", "content": "hi"}]
    # + the name's tokens + 1 for having a name
    ann = len(counter.encoding("o200k_base").encode("ann"))
    assert count_tokens("gpt-4o", named, counter=counter).tokens == 8 + ann + 1


def test_parts_tool_calls_and_images(counter: TokenCounter) -> None:
    enc = counter.encoding("o200k_base")
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "describe"},
                {"type": "image_url", "image_url": {"url": "data:..."}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}}
            ],
        },
    ]
    expected = 3 + 1 + len(enc.encode("describe"))  # the image counts 0
    expected += 3 + len(enc.encode("assistant")) + len(enc.encode("look")) + len(enc.encode("{}"))
    assert count_tokens("gpt-4o", messages, counter=counter).tokens == expected + 3


def test_function_tools_use_the_cookbook_constants(counter: TokenCounter) -> None:
    enc = counter.encoding("o200k_base")
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city."},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
            },
        },
    }
    bare = count_tokens("gpt-4o", [{"role": "user", "content": "hi"}], counter=counter).tokens
    with_tool = count_tokens(
        "gpt-4o", [{"role": "user", "content": "hi"}], tools=[tool], counter=counter
    ).tokens
    text = (
        len(enc.encode("get_weather:Weather for a city"))
        + len(enc.encode("city:string:The city"))
        + len(enc.encode("c"))
        + len(enc.encode("f"))
        + len(enc.encode("unit:string:"))
    )
    framing = 7 + 3 + 3 + 3 + (-3 + 3 * 2) + 12
    assert with_tool - bare == text + framing


def test_claude_is_o200k_scaled_and_says_so(counter: TokenCounter) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 50
    o200k = len(counter.encoding("o200k_base").encode(text))
    count = count_tokens("claude-sonnet-4-6", text, counter=counter)
    assert count.tokens == math.ceil(o200k * ANTHROPIC_SCALE)
    assert not count.exact and "approximation" in count.method
    system = count_tokens(
        "claude-sonnet-4-6",
        [{"role": "user", "content": [{"type": "text", "text": text}]}],
        system="Be brief.",
        counter=counter,
    )
    inner = o200k + len(counter.encoding("o200k_base").encode("user"))
    inner += len(counter.encoding("o200k_base").encode("Be brief."))
    assert system.tokens == math.ceil(inner * ANTHROPIC_SCALE) + 3 + 3 + 3


def test_system_and_tools_need_messages(counter: TokenCounter) -> None:
    with pytest.raises(ValueError, match="chat messages"):
        count_tokens("gpt-4o", "text", system="x", counter=counter)


def test_memo_is_bounded_and_remembers() -> None:
    loads: list[str] = []
    real = TokenCounter()

    def loader(name: str):  # type: ignore[no-untyped-def]
        loads.append(name)
        return real.encoding(name)  # type: ignore[arg-type]

    counter = TokenCounter(loader=loader, memo_chars=1_000)
    long_texts = [f"{i} " + "word " * 100 for i in range(5)]  # ~500+ chars each
    first = [counter.count_text("gpt-4o", t).tokens for t in long_texts]
    assert loads == ["o200k_base"]  # loaded once, kept
    assert counter._memo_held <= 1_000
    assert len(counter._memo) <= 2
    again = [counter.count_text("gpt-4o", t).tokens for t in long_texts]
    assert again == first


def test_a_failing_loader_surfaces(tmp_path: Path) -> None:
    def broken(name: str):  # type: ignore[no-untyped-def]
        raise ConfigError("no encodings here")

    with pytest.raises(ConfigError, match="no encodings"):
        TokenCounter(loader=broken).count_text("gpt-4o", "hello")


def test_the_top_level_call(counter: TokenCounter) -> None:
    import thrifty

    assert thrifty.count_tokens("gpt-4o", "hello world", counter=counter).tokens == 2
    assert "count_tokens" in thrifty.__all__
