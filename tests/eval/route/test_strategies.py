"""What each strategy does on data whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from tests.eval.route.conftest import synthetic_records
from thrifty.eval.route.cascades import Cascade
from thrifty.eval.route.evaluate import TARGETS, evaluate_split, headline
from thrifty.eval.route.routers import PromptRouter, frontier_models
from thrifty.eval.route.strategies import AlwaysModel, BestStatic, RandomRouter, threshold_label
from thrifty.eval.route.table import OutcomeTable

# per query: small $0.001, medium $0.003, large $0.010; a third of the prompts are hard


def run(*strategies):  # type: ignore[no-untyped-def]
    train = OutcomeTable.from_records(synthetic_records(150))
    test = OutcomeTable.from_records(synthetic_records(60, offset=1000))
    split = evaluate_split(train, test, list(strategies))
    return split, {r.name: r for r in split.results}


def test_baselines() -> None:
    split, results = run(
        AlwaysModel("strongest"), AlwaysModel("cheapest"), BestStatic(), RandomRouter()
    )
    assert (split.strongest, split.cheapest) == ("large", "small")
    assert split.strongest_quality == 1.0 and split.cheapest_quality == pytest.approx(2 / 3)
    [strong] = results["always-strongest"].points
    assert (strong.quality, strong.cost_pct) == (1.0, 100.0)
    [cheap] = results["always-cheapest"].points
    assert cheap.cost_pct == pytest.approx(10.0) and cheap.quality == pytest.approx(2 / 3)
    assert results["best-static"].picked["100%"].cost_pct == 100.0  # only large reaches 100%
    shares = [p.strong_share for p in results["random"].points]
    assert shares == sorted(shares) and shares[0] == 0 and shares[-1] == 1
    assert results["perfect-router"].points  # the bound: small on easy, large on hard
    assert headline(split, results["perfect-router"])["cost_pct_to_match_strongest"] == (
        pytest.approx(100 * (40 * 0.001 + 20 * 0.010) / (60 * 0.010))
    )


@pytest.mark.parametrize("method", ["logreg", "knn", "gain"])
def test_a_prompt_router_sends_hard_prompts_to_the_strong_model(method: str) -> None:
    split, results = run(PromptRouter(method))
    figures = headline(split, results[f"prompt-router-{method}"])
    # small on the 40 easy prompts, large on the 20 hard ones = the perfect router's 40%
    assert figures["cost_pct_to_match_strongest"] == pytest.approx(40.0)
    picked = results[f"prompt-router-{method}"].picked["100%"]
    assert picked.quality == 1.0 and picked.cost_pct == pytest.approx(40.0)


def test_frontier_models_skip_a_model_dearer_and_no_better() -> None:
    table = OutcomeTable.from_records(synthetic_records(30))
    assert [table.models[j] for j in frontier_models(table)] == ["small", "large"]


@pytest.mark.parametrize("learned", [False, True])
def test_a_cascade_escalates_on_disagreement_and_pays_both_calls(learned: bool) -> None:
    _, results = run(Cascade("100%", learned=learned, tier=["small", "medium"]))
    name = "scorer-cascade@100%" if learned else "agreement-cascade@100%"
    picked = results[name].picked["100%"]
    # every query calls small + medium ($0.004); the 20 hard ones (they disagree) add large
    expected = 100 * (60 * 0.004 + 20 * 0.010) / (60 * 0.010)
    assert picked.quality == 1.0
    assert picked.cost_pct == pytest.approx(expected)
    assert picked.strong_share == pytest.approx(1 / 3)


def test_a_cascade_chooses_its_cheap_tier_on_train() -> None:
    train = OutcomeTable.from_records(synthetic_records(150))
    cascade = Cascade("100%", learned=False)
    level = float(train.scores[:, train.strongest()].mean())
    cascade.fit(train, {t: share * level for t, share in TARGETS.items()})
    assert sorted(train.models[j] for j in cascade.tier) == ["medium", "small"]


def test_a_learned_cascade_with_one_cheap_model_reads_its_answer() -> None:
    _, results = run(Cascade("98%", learned=True, tier=["small"]))
    points = results["scorer-cascade@98%"].points
    assert max(p.quality for p in points) == 1.0
    costs = [p.cost for p in points]
    assert min(costs) >= 60 * 0.001 - 1e-12  # the cheap call is always paid
    assert np.isclose(max(costs), 60 * 0.011)  # small + large on every query


def test_a_cascade_needs_a_cheap_model() -> None:
    table = OutcomeTable.from_records(synthetic_records(30))
    with pytest.raises(ValueError):
        Cascade("98%", learned=False, tier=["nope"]).fit(table, {"98%": 0.9})


def test_single_decisions_agree_with_the_batch_path() -> None:
    train = OutcomeTable.from_records(synthetic_records(150))
    test = OutcomeTable.from_records(synthetic_records(30, offset=1000))
    level = float(train.scores[:, train.strongest()].mean())
    targets = {t: share * level for t, share in TARGETS.items()}
    for router in (PromptRouter("logreg"), PromptRouter("knn"), PromptRouter("gain")):
        router.fit(train, targets)
        threshold = router.thresholds["95%"]
        [batch] = [
            s for s in router.plan(test.views()).settings if s.label == threshold_label(threshold)
        ]
        assert [router.decide_one(p, threshold) for p in test.prompts] == batch.chosen.tolist()
    cascade = Cascade("98%", learned=True, tier=["small"])
    cascade.fit(train, targets)
    for threshold in (0.2, 0.5, 0.8):
        chosen, _ = cascade._decide(cascade._signals(cascade.state, test.views()), threshold)
        single = [cascade.decide_one(view, threshold) for view in test.views()]
        assert single == chosen.tolist()


def without_text(records: list, keep: set[str]) -> list:  # type: ignore[type-arg]
    from dataclasses import replace

    return [
        replace(
            r,
            outcomes={
                m: replace(o, response=o.response if m in keep else None)
                for m, o in r.outcomes.items()
            },
        )
        for r in records
    ]


def test_which_cascades_run_depends_on_the_answer_texts_recorded() -> None:
    from thrifty.eval.route.evaluate import default_strategies

    records = synthetic_records(30)
    names = {s.name for s in default_strategies(OutcomeTable.from_records(records))}
    assert {"agreement-cascade@98%", "scorer-cascade@100%"} <= names
    one = OutcomeTable.from_records(without_text(records, {"small", "large"}))
    cascades = [s.name for s in default_strategies(one) if s.kind == "cascade"]
    assert cascades == ["scorer-cascade@98%"]
    only_strong = OutcomeTable.from_records(without_text(records, {"large"}))
    assert not [s for s in default_strategies(only_strong) if s.kind == "cascade"]


def test_a_cascade_tier_falls_back_to_any_cheaper_model() -> None:
    from dataclasses import replace
    from decimal import Decimal

    from thrifty.eval.route.cascades import cascade_pool

    dear = {"small": Decimal("0.008"), "medium": Decimal("0.009")}  # 80% and 90% of large
    records = [
        replace(
            r,
            outcomes={
                m: replace(o, cost_usd=dear.get(m, o.cost_usd)) for m, o in r.outcomes.items()
            },
        )
        for r in synthetic_records(30)
    ]
    table = OutcomeTable.from_records(records)
    assert [table.models[j] for j in cascade_pool(table)] == ["small", "medium"]
    normal = OutcomeTable.from_records(synthetic_records(30))  # both under half of large
    assert [normal.models[j] for j in cascade_pool(normal)] == ["small", "medium"]
    pricey = OutcomeTable.from_records(
        [
            replace(
                r,
                outcomes={
                    **r.outcomes,
                    "medium": replace(r.outcomes["medium"], cost_usd=Decimal("0.009")),
                },
            )
            for r in synthetic_records(30)
        ]
    )
    assert [pricey.models[j] for j in cascade_pool(pricey)] == ["small"]


def records_with_lost_causes(n: int, offset: int = 0) -> list:  # type: ignore[type-arg]
    """A third easy (both models right), a third hard (only large right), a third lost
    causes (both wrong): paying for large on a lost cause buys nothing."""
    from decimal import Decimal

    from thrifty.eval.route.records import ModelOutcome, RouteRecord

    costs = {"small": Decimal("0.001"), "large": Decimal("0.010")}
    records = []
    for k in range(offset, offset + n):
        kind = ("easy sum", "hard proof", "riddle nobody solves")[k % 3]
        right = {"easy sum": {"small", "large"}, "hard proof": {"large"}}.get(kind, set())
        outcomes = {m: ModelOutcome(float(m in right), costs[m], None) for m in costs}
        records.append(RouteRecord(f"q{k}", f"{kind} number {k}", outcomes, None))
    return records


def test_the_gain_router_sends_cheap_what_the_strongest_gets_wrong_too() -> None:
    train = OutcomeTable.from_records(records_with_lost_causes(150))
    test = OutcomeTable.from_records(records_with_lost_causes(60, offset=1000))
    split = evaluate_split(train, test, [PromptRouter("logreg"), PromptRouter("gain")])
    results = {r.name: headline(split, r) for r in split.results}
    # large only on the 20 hard prompts: (40 * 0.001 + 20 * 0.010) / (60 * 0.010) = 40%
    assert results["prompt-router-gain"]["cost_pct_to_match_strongest"] == pytest.approx(40.0)
    # the logreg router cannot tell a hard prompt from a lost cause: large on both (70%)
    assert results["prompt-router-logreg"]["cost_pct_to_match_strongest"] == pytest.approx(70.0)
    picked = next(r for r in split.results if r.name == "prompt-router-gain").picked["100%"]
    assert picked.quality == pytest.approx(split.strongest_quality)
    assert picked.cost_pct == pytest.approx(40.0)


def test_an_unknown_router_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown router method 'svm'"):
        PromptRouter("svm")


def test_saturated_thresholds_keep_distinct_labels() -> None:
    # two thresholds 1e-12 apart (saturated predictions) once printed alike to 10 digits
    low, high = 1 - 2e-12, 1 - 1e-12
    assert threshold_label(low) != threshold_label(high)
    assert float(threshold_label(low).removeprefix("t=")) == low  # exact: the label is the value
