"""Label-noise rules and figures, on pairs and similarities made here."""

from __future__ import annotations

import numpy as np
import pytest

from thrifty.eval.cache.evaluate import Scored
from thrifty.eval.cache.noise import label_noise, near_identical, one_word_apart, same_words
from thrifty.eval.cache.pairs import Pair


@pytest.mark.parametrize(
    ("one", "two", "same", "apart"),
    [
        (
            "Why are natural resources important?",
            "Why natural resources are important?",
            True,
            False,
        ),
        ("I'm scared of death. What do I do?", "I'm scared of death.What do I do?", True, True),
        ("How can I become strong?", "How do I become strong?", False, True),
        ("What is the best part of our life?", "What is the best part of life?", False, True),
        ("What is the capital of France?", "What is the capital of Spain?", False, True),
        ("How do I learn Python?", "What is the best way to learn Python?", False, False),
        ("a b c", "a b c d e", False, False),
        ("", "", True, True),
    ],
)
def test_the_rules(one: str, two: str, same: bool, apart: bool) -> None:
    assert same_words(one, two) is same and same_words(two, one) is same
    assert one_word_apart(one, two) is apart and one_word_apart(two, one) is apart
    assert near_identical(one, two) is (same or apart)


def scored(rows: list[tuple[str, str, bool, float]]) -> Scored:
    pairs = [Pair(str(i), a, b, same) for i, (a, b, same, _) in enumerate(rows)]
    return Scored(
        pairs,
        np.array([s for *_, s in rows], dtype=np.float32),
        np.ones(len(rows), dtype=bool),
        np.array([same for _, _, same, _ in rows]),
    )


def test_flagged_pairs_are_counted_and_left_out_of_the_rates() -> None:
    reworded = ("Why are cats cute?", "Why cats are cute?", False, 0.995)
    other = ("Why are cats cute?", "Why are dogs loud?", False, 0.96)
    right = ("How do I cook rice?", "How should I cook rice?", True, 0.97)
    calibration = scored([right] * 500)  # a 5% search starts at 434 pairs
    held_out = scored([reworded] * 3 + [other] + [right] * 16)
    figures = label_noise(calibration, held_out, {0.05: 0.95}, min_hits=30)
    rule = figures["same_words"]
    assert rule["flagged_held_out"] == 3 and rule["flagged_calibration"] == 0
    assert rule["held_out_top_bands"]["0.99"] == {"pairs": 3, "non_duplicates": 3, "flagged": 3}
    assert rule["held_out_top_bands"]["0.95"] == {"pairs": 20, "non_duplicates": 4, "flagged": 3}
    (row,) = rule["targets"]
    kept = row["excluding_noise_at_labelled_threshold"]
    assert (kept["hits"], kept["wrong_hits"]) == (17, 1)  # "other" is still a false hit
    again = row["excluding_noise_calibrated_without_it"]
    assert again["threshold"] == pytest.approx(0.97)  # 500 clean calibration pairs at 0.97
    assert (again["hits"], again["wrong_hits"]) == (16, 0)
    assert figures["near_identical"]["flagged_held_out"] == 3  # "dogs loud" is two words off
