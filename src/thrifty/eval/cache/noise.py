"""Label noise: pairs labelled "not the same" whose two questions are (nearly) one question.

Quora's labels are noisy at the top of the similarity range: "Why are natural resources
important for us?" / "Why natural resources are important for us?" is labelled a
non-duplicate.  Two rules, reported separately, find such pairs without reading them:

* ``same_words``: the two texts use the same set of words (case, punctuation and order
  aside).  Nearly always a mislabelled pair.
* ``near_identical``: the same words, or word sequences that differ by one word inserted,
  removed or replaced ("How can I..." / "How do I...").  Mostly rewordings, but not always
  ("What has changed you?" / "What has changed?"): a looser rule, for an upper estimate of
  the noise.

The realised false-hit rates "excluding label noise" leave the flagged non-duplicate pairs
out of the held-out half (and out of the calibration half when the thresholds are
calibrated without them): clearly a different measurement from the labelled one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from thrifty.eval.cache.pairs import Pair
from thrifty.levers.fewer_calls.semantic.calibration import Z_CALIBRATION, calibrate, wilson_bounds

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from thrifty.eval.cache.evaluate import Scored

__all__ = ["NOISE_RULES", "label_noise", "near_identical", "one_word_apart", "same_words"]

_NOT_WORD = re.compile(r"[\W_]+")
TOP_BANDS = (0.99, 0.95)
# Where each target's search starts: at as many pairs as its bound needs to fit with half
# the target's rate wrong (1,098 pairs at 2%, 434 at 5%: calibration.calibrate).
START_SHARE = 0.5


def _words(text: str) -> list[str]:
    return _NOT_WORD.sub(" ", text.casefold()).split()


def same_words(one: str, two: str) -> bool:
    return set(_words(one)) == set(_words(two))


def one_word_apart(one: str, two: str) -> bool:
    """At most one word inserted, removed or replaced (word-level edit distance <= 1)."""
    a, b = _words(one), _words(two)
    if abs(len(a) - len(b)) > 1:
        return False
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return max(len(a), len(b)) - start - end <= 1


def near_identical(one: str, two: str) -> bool:
    return same_words(one, two) or one_word_apart(one, two)


NOISE_RULES: dict[str, Callable[[str, str], bool]] = {
    "same_words": same_words,
    "near_identical": near_identical,
}


def noise_floor(scored: Scored, rule: Callable[[str, str], bool]) -> dict[str, Any]:
    """Among the pairs ``rule`` calls one question asked twice (whatever their label) that
    the guards pass, the share labelled "not the same", with its Wilson 99% interval: a
    floor under the labelled false-hit rate of any cache that serves such pairs, since
    they are the ones a cache serves first."""
    import numpy as np

    alike = np.array([rule(p.text_a, p.text_b) for p in scored.pairs], dtype=bool)
    alike &= scored.passes
    pairs, different = int(alike.sum()), int((alike & ~scored.same).sum())
    low, high = wilson_bounds(different, pairs, Z_CALIBRATION)
    return {
        "pairs": pairs,
        "labelled_different": different,
        "rate": different / pairs if pairs else None,
        "interval_99": [low, high],
    }


def _flagged(pairs: Sequence[Pair], rule: Callable[[str, str], bool]) -> npt.NDArray[np.bool_]:
    import numpy as np

    return np.array([not p.same and rule(p.text_a, p.text_b) for p in pairs], dtype=bool)


def label_noise(
    calibration: Scored,
    held_out: Scored,
    thresholds: dict[float, float | None],
    *,
    min_hits: int,
) -> dict[str, Any]:
    """Per rule: how many non-duplicates it flags (in each half, and among the held-out
    pairs the guards pass at the top of the similarity range), and per target the realised
    false-hit rate on the held-out half without them: at the labelled calibration's
    threshold, and at a threshold calibrated without the calibration half's flagged pairs."""
    from thrifty.eval.cache.evaluate import outcome

    figures: dict[str, Any] = {}
    for name, rule in NOISE_RULES.items():
        cal_flag, held_flag = _flagged(calibration.pairs, rule), _flagged(held_out.pairs, rule)
        clean_held = held_out.subset(~held_flag)
        pool = calibration.subset(calibration.passes & ~cal_flag)
        targets = sorted(thresholds)
        cleaned = calibrate(
            pool.similarity.tolist(),
            pool.same.tolist(),
            targets,
            min_hits=min_hits,
            start_share=START_SHARE,
        )
        bands = {}
        for low in TOP_BANDS:
            band = held_out.passes & (held_out.similarity >= low)
            bands[f"{low:g}"] = {
                "pairs": int(band.sum()),
                "non_duplicates": int((band & ~held_out.same).sum()),
                "flagged": int((band & held_flag).sum()),
            }
        rows = []
        for target in targets:
            kept = outcome(clean_held, thresholds[target], guarded=True)
            recalibrated = outcome(clean_held, cleaned[target], guarded=True)
            rows.append(
                {
                    "target_false_hit_rate": target,
                    "excluding_noise_at_labelled_threshold": kept.as_json(),
                    "excluding_noise_calibrated_without_it": recalibrated.as_json(),
                }
            )
        figures[name] = {
            "noise_floor": noise_floor(held_out, rule),
            "flagged_calibration": int(cal_flag.sum()),
            "flagged_held_out": int(held_flag.sum()),
            "held_out_top_bands": bands,
            "targets": rows,
        }
    return figures
