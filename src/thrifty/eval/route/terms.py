"""TF-IDF of one text without scikit-learn's per-call overhead, for live decisions.

scikit-learn's ``transform`` validates its input and builds a sparse matrix on every call,
which costs milliseconds for a single text; :class:`SingleText` applies the same fitted
analyzer, vocabulary, sublinear tf, idf and L2 norm in plain Python and returns the
non-zero (column, value) pairs.  The batch path (evaluation) keeps using ``transform``; a
test checks that both agree.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from thrifty.eval.route.table import FloatArray, IntArray


class SingleText:
    """A fitted :class:`TfidfVectorizer` (``sublinear_tf``, ``norm="l2"``) for one text."""

    def __init__(self, fitted: TfidfVectorizer) -> None:
        self.analyze: Callable[[str], list[str]] = fitted.build_analyzer()
        self.vocabulary: dict[str, int] = fitted.vocabulary_
        self.idf: FloatArray = np.asarray(fitted.idf_, dtype=float)
        self.sublinear = bool(fitted.sublinear_tf)

    def vector(self, text: str) -> tuple[IntArray, FloatArray]:
        counts = Counter(
            column
            for term in self.analyze(text)
            if (column := self.vocabulary.get(term)) is not None
        )
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=float, count=len(counts))
        if self.sublinear:
            tf = 1.0 + np.log(tf)
        values = tf * self.idf[columns]
        norm = math.sqrt(float(values @ values))
        return columns, values / norm if norm else values
