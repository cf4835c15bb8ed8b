"""The pair scorer: its features by hand, its probability, its stored form, and how the
policy and the calibration table use it."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from tests.levers.fewer_calls.semantic.test_policy_and_answers import entry
from thrifty.config import SemanticCacheSettings
from thrifty.errors import ConfigError
from thrifty.levers.fewer_calls.semantic.calibration import Z_95, calibrate, wilson_bounds
from thrifty.levers.fewer_calls.semantic.features import (
    FEATURE_NAMES,
    Vocabulary,
    pair_features,
    words_of,
)
from thrifty.levers.fewer_calls.semantic.policy import Policy, decide
from thrifty.levers.fewer_calls.semantic.scorer import PairScorer, ScorerFormatError
from thrifty.levers.fewer_calls.semantic.stage import rules_for
from thrifty.levers.fewer_calls.semantic.table import dump_table, load_calibration

VOCABULARY = Vocabulary({"how": 1.0, "do": 1.0, "i": 1.0, "learn": 2.0, "python": 5.0}, 8.0)
COUNT = len(FEATURE_NAMES)


def features(cached: str, query: str, cosine: float = 0.9) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, pair_features(cached, query, cosine, VOCABULARY), strict=True))


def test_words_fold_case_and_drop_apostrophes() -> None:
    assert words_of("Don't STOP, me_now!") == ("dont", "stop", "me", "now")


def test_features_of_one_question_reworded() -> None:
    same = features("How do I learn Python?", "how do i learn python")
    assert same == {
        "cosine": 0.9,
        "jaccard": 1.0,
        "idf_diff": 0.0,
        "idf_only_cached": 0.0,
        "idf_only_query": 0.0,
        "max_idf_diff": 0.0,
        "length_ratio": 1.0,
        "lead_differs": 0.0,
        "same_words": 1.0,
    }


def test_features_weigh_what_differs_by_its_rarity() -> None:
    # {how, do, i, learn, python} vs {how, do, i, learn, rust}: "rust" is unknown (8.0).
    got = features("How do I learn Python?", "How do I learn Rust quickly?")
    # union: how do i learn python rust quickly = 1+1+1+2+5+8+8 = 26; only cached: python
    # (5); only query: rust, quickly (16)
    assert got["jaccard"] == pytest.approx(4 / 7)
    assert got["idf_only_cached"] == 5.0 and got["idf_only_query"] == 16.0
    assert got["idf_diff"] == pytest.approx(21 / 26)
    assert got["max_idf_diff"] == 8.0
    assert got["length_ratio"] == pytest.approx(5 / 6)
    assert got["same_words"] == 0.0 and got["lead_differs"] == 0.0
    assert features("How do I learn?", "Why do I learn?")["lead_differs"] == 1.0
    empty = features("", "")
    assert empty["jaccard"] == 1.0 and empty["idf_diff"] == 0.0 and empty["length_ratio"] == 1.0


def scorer(weights: tuple[float, ...], intercept: float = 0.0) -> PairScorer:
    return PairScorer(VOCABULARY, (0.0,) * COUNT, (1.0,) * COUNT, weights, intercept)


def cosine_only(weight: float, intercept: float) -> PairScorer:
    return scorer((weight,) + (0.0,) * (COUNT - 1), intercept)


def test_score_is_the_logistic_of_the_weighted_features() -> None:
    # logit = -9 + 10 * 0.95 = 0.5; jaccard's weight 2 adds 2 * 1.0 for the same words.
    assert cosine_only(10, -9).score("a b", "a b", 0.95) == pytest.approx(1 / (1 + math.exp(-0.5)))
    both = scorer((10.0, 2.0) + (0.0,) * (COUNT - 2), -9)
    assert both.score("a b", "a b", 0.95) == pytest.approx(1 / (1 + math.exp(-2.5)))
    assert both.score("a b", "c d", 0.95) == pytest.approx(1 / (1 + math.exp(-0.5)))
    assert cosine_only(-1000, 0).score("a", "a", 1.0) == 0.0  # no overflow
    with pytest.raises(ScorerFormatError):
        scorer((1.0,))
    with pytest.raises(ScorerFormatError):
        PairScorer(VOCABULARY, (0.0,) * COUNT, (0.0,) * COUNT, (1.0,) * COUNT, 0.0)


def test_stored_form_round_trips() -> None:
    original = scorer(tuple(float(i) for i in range(COUNT)), 0.25)
    again = PairScorer.from_json(orjson.loads(orjson.dumps(original.as_json())))
    assert again == original
    assert again.score("How do I learn?", "how to learn", 0.8) == original.score(
        "How do I learn?", "how to learn", 0.8
    )


@pytest.mark.parametrize(
    "damage",
    [
        {"kind": "trees"},
        {"features": ["cosine"]},
        {"weights": [1.0]},
        {"means": ["x"] * COUNT},
        {"scales": [True] * COUNT},
        {"intercept": float("nan")},
        {"intercept": None},
        {"idf": {"a": -1.0}},
        {"idf": ["a"]},
        {"unknown_idf": -2.0},
    ],
)
def test_a_damaged_scorer_is_refused(damage: dict[str, object]) -> None:
    stored = scorer((1.0,) * COUNT).as_json() | damage
    with pytest.raises(ScorerFormatError):
        PairScorer.from_json(stored)
    with pytest.raises(ScorerFormatError):
        PairScorer.from_json(None)


def test_table_with_a_scorer_round_trips_and_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    stored = cosine_only(10, -9)
    path.write_bytes(dump_table("m", {0.02: None, 0.1: 0.6}, stored))
    table = load_calibration(path, "m")
    assert table.thresholds == {0.02: None, 0.1: 0.6} and table.scorer == stored
    plain = tmp_path / "plain.json"
    plain.write_bytes(dump_table("m", {0.1: 0.95}))
    assert load_calibration(plain, "m").scorer is None
    data = orjson.loads(path.read_bytes())
    for bad, message in (
        (data | {"strategy": "magic"}, "strategy"),
        (data | {"scorer": {"kind": "logistic"}}, "scorer"),
    ):
        path.write_bytes(orjson.dumps(bad))
        with pytest.raises(ConfigError, match=message):
            load_calibration(path, "m")


def test_the_policy_thresholds_the_scorer_not_the_cosine() -> None:
    # score = sigmoid(10 * cosine - 9): 0.5 at cosine 0.9; threshold 0.6 needs cosine 0.941.
    policy = Policy(0.6, min_similarity=0.7, explore_rate=0.0, scorer=cosine_only(10, -9))
    cached = entry("how do i learn python")
    assert decide([(cached, 0.95)], "how can i learn python", policy, lambda: 0.5).kind == "hit"
    assert decide([(cached, 0.93)], "how can i learn python", policy, lambda: 0.5).kind == "near"
    # What exploration learnt is in similarity: a wrong at 0.96 blocks up to 0.965...
    wrong = entry("how do i learn python", wrong=1, highest_wrong=0.96)
    assert decide([(wrong, 0.962)], "learn python", policy, lambda: 0.5).kind == "near"
    assert decide([(wrong, 0.97)], "learn python", policy, lambda: 0.5).kind == "hit"
    # ... and twice right from 0.8 serves from 0.8, below what the scorer would allow.
    vouched = entry("how do i learn python", agreed=2, lowest_agreed=0.8)
    assert decide([(vouched, 0.85)], "learn python", policy, lambda: 0.5).kind == "hit"
    assert decide([(vouched, 0.75)], "learn python", policy, lambda: 0.5).kind == "near"
    never = Policy(None, min_similarity=0.7, explore_rate=0.0, scorer=cosine_only(10, -9))
    assert decide([(cached, 0.99)], "learn python", never, lambda: 0.5).kind == "near"
    assert decide([(vouched, 0.85)], "learn python", never, lambda: 0.5).kind == "hit"
    # The guards still veto first.
    assert decide([(cached, 0.99)], "how do i not learn python", policy, lambda: 0.5).kind == (
        "veto"
    )


def test_a_later_start_lets_a_wrong_pair_at_the_top_through() -> None:
    # One wrong pair first, then 400 right ones.  From the top (start_share 0) the first
    # test (at 1/N with N the count a 5% bound needs with none wrong) fails: never.
    sims = [1.0 - i * 0.0001 for i in range(401)]
    same = [False] + [True] * 400
    assert calibrate(sims, same, [0.05], z=Z_95, min_hits=30) == {0.05: None}
    chosen = calibrate(sims, same, [0.05], z=Z_95, min_hits=30, start_share=0.5)
    assert chosen[0.05] == pytest.approx(sims[-1])
    assert wilson_bounds(1, 401, Z_95)[1] <= 0.05
    with pytest.raises(ValueError):
        calibrate(sims, same, [0.05], start_share=1.0)


def test_task_rules_use_the_tables_scorer_unless_a_cosine_threshold_is_set() -> None:
    stored = cosine_only(10, -9)
    lever = SemanticCacheSettings(enabled=True, target_false_hit_rate=0.1)
    rules = rules_for(lever, {0.1: 0.7}, stored)
    assert rules is not None and rules.policy.scorer == stored and rules.policy.threshold == 0.7
    pinned = rules_for(SemanticCacheSettings(enabled=True, threshold=0.93), {0.1: 0.7}, stored)
    assert pinned is not None and pinned.policy.scorer is None
    assert pinned.policy.threshold == 0.93
