"""Reading a cheap answer's text: final answers, arithmetic checks, safe evaluation."""

from __future__ import annotations

import pytest

from thrifty.eval.route.answers import (
    FEATURE_NAMES,
    arithmetic_checks,
    final_answer,
    safe_arithmetic,
    text_features,
)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("A\n", "A"),
        ("B) wet palms", "B"),
        ("The answer is C.", "C"),
        ("3 x 60 = <<3*60=180>>180\n#### 540", "540"),
        ("so she pays $1,250.00 in total", "1250"),
        ("about 2.5 hours", "2.5"),
        ("  I do  NOT know ", "i do not know"),
    ],
)
def test_final_answer(text: str, answer: str) -> None:
    assert final_answer(text) == answer


def test_arithmetic_checks_count_wrong_statements() -> None:
    assert arithmetic_checks("16 - 3 = 13 and 13 - 4 = 9") == (2, 0)
    assert arithmetic_checks("<<2*3=7>> then 10 / 4 = 2.5") == (2, 1)
    assert arithmetic_checks("no sums here") == (0, 0)


@pytest.mark.parametrize("expression", ["__import__('os')", "2**999999", "1/0", "a+1", "9" * 90])
def test_safe_arithmetic_refuses_anything_but_sums(expression: str) -> None:
    assert safe_arithmetic(expression) is None


def test_safe_arithmetic() -> None:
    assert safe_arithmetic("1,000 x 3 - -2") == 3002
    assert safe_arithmetic("7 ÷ 2") == 3.5


def test_text_features_shape_and_signals() -> None:
    right = text_features("Tom has 3 apples and 4 pears.", "3 + 4 = 7\n#### 7")
    wrong = text_features("Tom has 3 apples and 4 pears.", "I assume 3 + 4 = 8, approximately 8.5")
    assert len(right) == len(wrong) == len(FEATURE_NAMES)
    named = dict(zip(FEATURE_NAMES, wrong, strict=True))
    assert named["wrong_sums"] == 1 and named["final_not_whole"] == 1
    assert named["hedges"] == 2 and named["prompt_numbers_unused"] == 0
    assert dict(zip(FEATURE_NAMES, right, strict=True))["wrong_sums"] == 0
