"""The simulator's token log-probabilities (what the cascade's logprob signal reads)."""

from __future__ import annotations

import math

from thrifty.sim.logprobs import logprobs_content, wants_logprobs
from thrifty.sim.tokens import token_pieces

TEXT = "Simulated reply abcd: the cost of each call is low."


def mean(content: dict[str, object]) -> float:
    values = [t["logprob"] for t in content["content"]]  # type: ignore[attr-defined, index]
    return math.fsum(values) / len(values)


def test_one_logprob_per_token_deterministic_and_confident_by_default() -> None:
    first = logprobs_content(TEXT, b"seed", "question")
    assert first == logprobs_content(TEXT, b"seed", "question")
    assert [t["token"] for t in first["content"]] == token_pieces(TEXT)
    assert all(-0.3 <= t["logprob"] <= 0 for t in first["content"])
    assert -0.3 < mean(first) < 0


def test_a_marker_centres_them() -> None:
    hesitant = logprobs_content(TEXT, b"seed", "question [[sim:logprob=-2]]")
    assert -2.2 < mean(hesitant) < -1.8
    assert all(t["logprob"] <= 0 for t in hesitant["content"])  # never a positive logprob
    assert mean(logprobs_content(TEXT, b"seed", "[[sim:logprob=3]]")) <= 0


def test_only_when_asked() -> None:
    assert wants_logprobs({"logprobs": True})
    assert not wants_logprobs({}) and not wants_logprobs({"logprobs": False})
