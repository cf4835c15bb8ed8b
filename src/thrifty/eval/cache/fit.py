"""Fitting the pair scorer (:mod:`thrifty.levers.fewer_calls.semantic.scorer`) on labelled
pairs.

The calibration half is split again, by the second byte of the SHA-256 of a pair's id: a
quarter (``fit``) fits the scorer, the other three quarters (``threshold``) calibrate its
thresholds.  The thresholds are never chosen on the pairs the scorer learnt from (a model
scores the pairs it was fitted on too well, and a threshold chosen on them would be
optimistic).  The held-out half is touched by neither.

The vocabulary's inverse document frequencies are counted on the ``fit`` quarter's texts:
``idf(w) = ln((N + 1) / (df(w) + 1)) + 1`` over its N distinct texts, kept for words in at
least :data:`MIN_DOCUMENT_FREQUENCY` texts; a word it does not hold weighs as a word seen
once.  The model is scikit-learn's logistic regression (L2, C = 1, lbfgs: deterministic)
on standardised features.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from thrifty.eval.cache.pairs import Pair
from thrifty.levers.fewer_calls.semantic.features import Vocabulary, pair_features, words_of
from thrifty.levers.fewer_calls.semantic.scorer import PairScorer

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["MIN_DOCUMENT_FREQUENCY", "fit_scorer", "fit_vocabulary", "is_fit_pair"]

MIN_DOCUMENT_FREQUENCY = 3
FIT_SHARE = 4  # one pair in FIT_SHARE of the calibration half fits the scorer


def is_fit_pair(pair_id: str) -> bool:
    """Whether a calibration pair fits the scorer (else it calibrates the thresholds)."""
    return hashlib.sha256(pair_id.encode()).digest()[1] % FIT_SHARE == 0


def fit_vocabulary(texts: Sequence[str]) -> Vocabulary:
    distinct = list(dict.fromkeys(texts))
    counts = Counter(word for text in distinct for word in set(words_of(text)))
    total = len(distinct)

    def idf(frequency: int) -> float:
        return round(math.log((total + 1) / (frequency + 1)) + 1, 3)

    kept = {w: idf(n) for w, n in counts.items() if n >= MIN_DOCUMENT_FREQUENCY}
    return Vocabulary(kept, idf(1))


def feature_matrix(
    pairs: Sequence[Pair], cosines: Sequence[float], vocabulary: Vocabulary
) -> npt.NDArray[np.float64]:
    import numpy as np

    return np.array(
        [
            pair_features(p.text_a, p.text_b, float(c), vocabulary)
            for p, c in zip(pairs, cosines, strict=True)
        ],
        dtype=np.float64,
    ).reshape(len(pairs), -1)


def fit_scorer(pairs: Sequence[Pair], cosines: Sequence[float]) -> PairScorer | None:
    """A scorer fitted on ``pairs`` (their cosine similarities beside them), or ``None``
    when they hold too few of either label to fit one."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    labels = np.array([p.same for p in pairs], dtype=bool)
    if min(int(labels.sum()), int((~labels).sum())) < 2:
        return None
    vocabulary = fit_vocabulary([t for p in pairs for t in (p.text_a, p.text_b)])
    features = feature_matrix(pairs, cosines, vocabulary)
    means = features.mean(axis=0)
    scales = features.std(axis=0)
    scales[scales < 1e-9] = 1.0  # a constant feature: any scale, its weight comes out 0
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit((features - means) / scales, labels)
    return PairScorer(
        vocabulary,
        tuple(float(m) for m in means),
        tuple(float(s) for s in scales),
        tuple(float(w) for w in model.coef_[0]),
        float(model.intercept_[0]),
    )
