from __future__ import annotations

from thrifty.sim import count_tokens
from thrifty.sim.tokens import make_answer, truncate_tokens


def test_count_tokens_words_punct_and_long_words() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hi you") == 2
    assert count_tokens("hello, world!") == 6  # hell|o , worl|d !
    assert count_tokens("internationalization") == 5
    assert count_tokens("   \n\t ") == 0


def test_truncate_is_exact() -> None:
    text = "Simulated reply abcdef12: the cost of each call."
    for limit in range(1, count_tokens(text) + 1):
        assert count_tokens(truncate_tokens(text, limit)) == limit


def test_answer_is_deterministic_and_sized() -> None:
    lengths = set()
    for i in range(200):
        seed = f"seed-{i}".encode()
        a = make_answer(seed, "question", None)
        assert a == make_answer(seed, "question", None)
        assert 20 <= a.tokens <= 80
        assert a.tokens == count_tokens(a.text)
        assert a.text.startswith("Simulated reply ")
        assert not a.capped
        lengths.add(a.tokens)
    assert len(lengths) > 20


def test_answer_cap_and_echo() -> None:
    capped = make_answer(b"x", "q", 5)
    assert capped.capped and capped.tokens == 5
    echo = make_answer(b"x", "repeat this please [[sim:echo]]", None)
    assert echo.text == "repeat this please"
    assert not echo.capped
