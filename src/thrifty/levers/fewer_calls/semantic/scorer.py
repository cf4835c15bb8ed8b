"""The pair scorer: how likely a cached query's answer serves a new query.

A logistic regression over :data:`~.features.FEATURE_NAMES` (the cosine similarity and what
differs between the two questions' words), fitted offline on labelled pairs by ``thrifty
eval cache`` and stored in the calibration table with its vocabulary.  Its probability, not
the raw cosine, is what the calibrated threshold applies to.  Plain Python, deterministic:
one pair scores in a few microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from thrifty.levers.fewer_calls.semantic.features import FEATURE_NAMES, Vocabulary, pair_features

__all__ = ["PairScorer", "ScorerFormatError"]

MAX_VOCABULARY = 200_000


class ScorerFormatError(ValueError):
    """A stored scorer that cannot be read back."""


def _numbers(value: object, length: int, what: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != length:
        raise ScorerFormatError(f"{what}: expected {length} numbers")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise ScorerFormatError(f"{what}: expected numbers")
    numbers = tuple(float(v) for v in value)
    if not all(math.isfinite(v) for v in numbers):
        raise ScorerFormatError(f"{what}: not finite")
    return numbers


@dataclass(frozen=True, slots=True)
class PairScorer:
    """``sigmoid(intercept + sum(weight * (feature - mean) / scale))``."""

    vocabulary: Vocabulary
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        count = len(FEATURE_NAMES)
        if not len(self.means) == len(self.scales) == len(self.weights) == count:
            raise ScorerFormatError(f"a scorer has {count} means, scales and weights")
        if not all(s > 0 for s in self.scales):
            raise ScorerFormatError("a feature's scale must be positive")

    def logit(self, features: Sequence[float]) -> float:
        total = self.intercept
        for value, mean, scale, weight in zip(
            features, self.means, self.scales, self.weights, strict=True
        ):
            total += weight * (value - mean) / scale
        return total

    def score(self, cached: str, query: str, cosine: float) -> float:
        """The probability that ``cached``'s answer serves ``query`` (0 to 1)."""
        logit = self.logit(pair_features(cached, query, cosine, self.vocabulary))
        if logit < -700:
            return 0.0
        return 1.0 / (1.0 + math.exp(-logit))

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "logistic",
            "features": list(FEATURE_NAMES),
            "means": list(self.means),
            "scales": list(self.scales),
            "weights": list(self.weights),
            "intercept": self.intercept,
            "unknown_idf": self.vocabulary.unknown,
            "idf": dict(sorted(self.vocabulary.idf.items())),
        }

    @classmethod
    def from_json(cls, data: object) -> PairScorer:
        if not isinstance(data, Mapping) or data.get("kind") != "logistic":
            raise ScorerFormatError("not a logistic scorer")
        if data.get("features") != list(FEATURE_NAMES):
            raise ScorerFormatError(
                "made for other features: run `thrifty eval cache --save` again"
            )
        count = len(FEATURE_NAMES)
        (intercept, unknown) = _numbers(
            [data.get("intercept"), data.get("unknown_idf")], 2, "intercept, unknown_idf"
        )
        idf = data.get("idf")
        if not isinstance(idf, Mapping) or len(idf) > MAX_VOCABULARY:
            raise ScorerFormatError(f"idf: a table of at most {MAX_VOCABULARY} words")
        words = {str(w): v for w, v in idf.items()}
        weights = _numbers(list(words.values()), len(words), "idf")
        if unknown < 0 or any(w < 0 for w in weights):
            raise ScorerFormatError("idf: negative weight")
        return cls(
            Vocabulary(dict(zip(words, weights, strict=True)), unknown),
            _numbers(data.get("means"), count, "means"),
            _numbers(data.get("scales"), count, "scales"),
            _numbers(data.get("weights"), count, "weights"),
            intercept,
        )
