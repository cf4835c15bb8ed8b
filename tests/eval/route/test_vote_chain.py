"""The vote chain: a naive-Bayes posterior over answer options, cheap models called one at a
time, every call paid."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tests.eval.route.conftest import synthetic_records
from thrifty.eval.route.evaluate import TARGETS, default_strategies, evaluate_split, headline
from thrifty.eval.route.records import ModelOutcome, RouteRecord
from thrifty.eval.route.table import OutcomeTable
from thrifty.eval.route.vote_chain import (
    GRID,
    Confusions,
    VoteChain,
    answer_options,
    grid_outcomes,
    setting_label,
)


def test_the_posterior_weighs_each_models_confusion() -> None:
    # two options (0 = A, 1 = B; 2 = another answer), two models; the right option of a
    # row is the answer of a model scored right
    codes = np.array([[0, 0], [0, 1], [1, 1], [1, 0]])
    scores = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    confusions = Confusions.fit(codes, scores, 2)
    # counts start at 0.5; right options: A, A, B, A; prior counts start at 1: A 4, B 2
    said_a = {"A": 2.5 / 4.5, "B": 0.5 / 2.5}  # model 0 (and model 1) says A
    said_b = {"A": 1.5 / 4.5, "B": 1.5 / 2.5}
    prior = {"A": 4 / 6, "B": 2 / 6}
    confidence, served = confusions.stages(np.array([[0, 1]]), [0, 1])
    first = prior["A"] * said_a["A"] / (prior["A"] * said_a["A"] + prior["B"] * said_a["B"])
    both_a = prior["A"] * said_a["A"] * said_b["A"]
    both_b = prior["B"] * said_a["B"] * said_b["B"]
    assert confidence[:, 0] == pytest.approx([first, both_a / (both_a + both_b)])
    assert list(served[:, 0]) == [0, 0]  # A is still the best option, given by model 0
    # an answer that is none of the options gives nothing to accept
    confidence, _ = confusions.stages(np.array([[2, 2]]), [0])
    assert confidence[0, 0] == 0.0


def test_options_are_a_few_answers_not_free_text() -> None:
    table = OutcomeTable.from_records(synthetic_records(30))
    small, medium = table.index("small"), table.index("medium")
    assert answer_options(table, [small, medium]) == ("A", "B", "C")
    free = [
        RouteRecord(
            f"q{k}",
            f"prompt {k}",
            {
                m: ModelOutcome(1.0, Decimal("0.001"), f"the total is {k * 7 + len(m)}")
                for m in ("x", "y")
            },
        )
        for k in range(40)
    ]
    free_table = OutcomeTable.from_records(free)
    assert answer_options(free_table, [0, 1]) is None
    with pytest.raises(ValueError, match="not one of a few options"):
        VoteChain("98%").fit(free_table, {"98%": 1.0})


def test_the_chain_accepts_agreement_and_escalates_the_rest_paying_every_call() -> None:
    train = OutcomeTable.from_records(synthetic_records(150))
    test = OutcomeTable.from_records(synthetic_records(60, offset=1000))
    chain = VoteChain("98%")
    split = evaluate_split(train, test, [chain])
    result = split.results[0]
    # easy prompts: small says A (right) and is accepted; hard ones: small says B, which
    # small says only when A is right, so they go on to large: 60 small calls + 20 large
    assert [train.models[j] for j in chain.chain] == ["small"]
    picked = result.picked["98%"]
    assert picked.quality == 1.0
    assert picked.cost_pct == pytest.approx(100 * (60 * 0.001 + 20 * 0.010) / (60 * 0.010))
    assert headline(split, result)["cost_pct_to_match_strongest"] == pytest.approx(picked.cost_pct)


def noisy_records(n: int, seed: int, offset: int = 0) -> list[RouteRecord]:
    """Three cheap models right 60-85% of the time (else a wrong letter), a strong one
    right 95% of the time; the right letter varies."""
    rng = np.random.default_rng(seed)
    skill = {"c1": 0.6, "c2": 0.85, "c3": 0.75, "big": 0.95}
    price = {"c1": "0.001", "c2": "0.002", "c3": "0.0015", "big": "0.010"}
    records = []
    for k in range(offset, offset + n):
        right = "ABCD"[rng.integers(4)]
        outcomes = {}
        for model, p in skill.items():
            wrong = [c for c in "ABCD" if c != right]
            said = right if rng.random() < p else wrong[rng.integers(3)]
            outcomes[model] = ModelOutcome(float(said == right), Decimal(price[model]), said)
        records.append(RouteRecord(f"q{k}", f"question {k}", outcomes))
    return records


def test_live_decisions_agree_with_the_train_search() -> None:
    """The per-query path (test views, one paid read at a time) gives, at every setting,
    the quality and cost the vectorized search computes from the same answers."""
    train = OutcomeTable.from_records(noisy_records(300, seed=1))
    test = OutcomeTable.from_records(noisy_records(120, seed=2, offset=1000), train.models)
    chain = VoteChain("98%")
    split = evaluate_split(train, test, [chain])
    points = {p.label: p for p in split.results[0].points}
    assert len(points) == len(GRID)
    codes = chain.coder.of_table(test)
    confidence, served = chain.confusions.stages(codes, chain.chain)
    rows = np.arange(len(test))
    served_score = test.scores[rows, np.asarray(chain.chain)[served]]
    quality, cost = grid_outcomes(confidence, served_score, chain.chain, test, chain.strongest)
    baseline = float(test.costs[:, test.index("big")].sum())
    for k, (accept, give_up) in enumerate(GRID):
        found = points[setting_label(accept, give_up)]
        assert found.quality == pytest.approx(quality[k])
        assert found.cost_pct == pytest.approx(100 * cost[k] / baseline)


def test_a_setting_reads_only_the_models_it_calls() -> None:
    train = OutcomeTable.from_records(noisy_records(300, seed=1))
    test = OutcomeTable.from_records(noisy_records(60, seed=3, offset=1000), train.models)
    level = float(train.scores[:, train.strongest()].mean())
    chain = VoteChain("98%")
    chain.fit(train, {t: share * level for t, share in TARGETS.items()})
    views = test.views()
    plan = chain.plan(views)
    by_label = {s.label: s for s in plan.settings}
    stopped_early = 0
    for i, view in enumerate(views):
        assert view.read_models == frozenset()  # every read went through a setting's fork
        for label, fork in view.forks:
            called = {test.models[j] for j in np.flatnonzero(by_label[label].called[i])}
            assert fork.read_models <= called
            stopped_early += len(fork.read_models) < len(chain.chain)
    assert stopped_early > 0


def test_the_vote_chain_runs_on_multiple_choice_records_only() -> None:
    names = {s.name for s in default_strategies(OutcomeTable.from_records(synthetic_records(30)))}
    assert {"vote-chain@98%", "vote-chain@100%"} <= names
    free = [
        RouteRecord(
            f"q{k}",
            f"prompt {k}",
            {
                m: ModelOutcome(1.0, Decimal(c), f"the total is {k * 7 + len(m)}")
                for m, c in (("x", "0.001"), ("y", "0.002"), ("z", "0.01"))
            },
        )
        for k in range(40)
    ]
    names = {s.name for s in default_strategies(OutcomeTable.from_records(free))}
    assert "agreement-cascade@98%" in names and not any(n.startswith("vote-chain") for n in names)
