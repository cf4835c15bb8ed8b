"""Agreement between two cheap answers: the tier's answer is kept only when a second cheap
answer (the same model sampled again, or another cheap model) settles on the same final
answer, compared as ``thrifty eval route``'s agreement cascade compares them
(:func:`thrifty.eval.route.answers.final_answer`: a choice letter, the final number, else
the whitespace-normalised text).  The second call is made alongside the first, so the check
adds no wait; it is paid for and booked as the cascade's call whether or not it agrees."""

from __future__ import annotations

from thrifty.eval.route.answers import final_answer
from thrifty.levers.cheaper.cascade.answers import TierAnswer
from thrifty.levers.cheaper.cascade.signals import Verdict


def agree(first: TierAnswer, second: TierAnswer | None) -> Verdict:
    """Whether ``second`` (``None``: that call failed) settles on ``first``'s answer."""
    if second is None:
        return Verdict.of(False, "agreement: the second answer failed")
    if final_answer(first.text) == final_answer(second.text):
        return Verdict.of(True, "agreement ok")
    return Verdict.of(False, "agreement: answers differ")
