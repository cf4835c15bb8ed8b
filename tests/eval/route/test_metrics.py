"""Metrics against small examples computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from thrifty.eval.route.evaluate import SplitResult, StrategyResult, headline
from thrifty.eval.route.metrics import Point, apgr, cost_pct_at, cpt, frontier, pgr, point

SCORES = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])  # model 0 cheap, 1 strong
COSTS = np.array([[1.0, 10.0], [1.0, 10.0], [2.0, 20.0], [1.0, 10.0]])


def at(share: float, quality: float, cost_pct: float = 0.0) -> Point:
    return Point(quality=quality, cost=cost_pct, cost_pct=cost_pct, strong_share=share)


def test_point_of_a_cascade_pays_both_calls_on_escalation() -> None:
    chosen = np.array([0, 1, 1, 0])  # queries 1 and 2 escalated
    called = np.array([[True, False], [True, True], [True, True], [True, False]])
    p = point(SCORES, COSTS, chosen, called, strongest=1)
    assert p.quality == pytest.approx((1 + 1 + 0 + 1) / 4)
    assert p.cost == pytest.approx(1 + (1 + 10) + (2 + 20) + 1)  # 35
    assert p.cost_pct == pytest.approx(100 * 35 / 50)
    assert p.strong_share == pytest.approx(0.5)


def test_point_refuses_an_answer_from_a_model_not_called() -> None:
    chosen = np.array([1, 0, 0, 0])
    called = np.array([[True, False]] * 4)
    with pytest.raises(ValueError, match="not called"):
        point(SCORES, COSTS, chosen, called, strongest=1)


def test_frontier_keeps_only_points_that_buy_quality() -> None:
    points = [at(0, 0.5, 10), at(0, 0.4, 20), at(0, 0.7, 30), at(0, 0.7, 40), at(0, 0.6, 5)]
    assert [(p.cost_pct, p.quality) for p in frontier(points)] == [(5, 0.6), (30, 0.7)]


def test_cost_to_reach_a_quality_is_the_cheapest_point_reaching_it() -> None:
    points = [at(0, 0.5, 10), at(0, 0.8, 60), at(0, 0.9, 45)]
    assert cost_pct_at(points, 0.8) == 45
    assert cost_pct_at(points, 0.5) == 10
    assert cost_pct_at(points, 0.95) is None


def test_pgr() -> None:
    assert pgr(0.7, weak=0.6, strong=0.8) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pgr(0.7, weak=0.8, strong=0.8)


def test_cpt_interpolates_on_the_strong_share_curve() -> None:
    # weak 0.6, strong 0.8: PGR 0.3 at share 0.2, 0.7 at share 0.4
    points = [at(0.2, 0.66), at(0.4, 0.74)]
    assert cpt(points, 0.5, 0.6, 0.8) == pytest.approx(0.2 + 0.2 * (0.5 - 0.3) / (0.7 - 0.3))
    assert cpt(points, 0.8, 0.6, 0.8) == pytest.approx(0.4 + 0.6 * (0.8 - 0.7) / (1 - 0.7))


def test_cpt_of_a_router_reaching_the_target_early_and_never() -> None:
    assert cpt([at(0.1, 0.8)], 0.5, 0.6, 0.8) == pytest.approx(0.1 * 0.5 / 1.0)
    assert cpt([at(0.0, 0.7)], 0.5, 0.6, 0.8) == pytest.approx(0.0)


def test_apgr_is_the_area_under_pgr_over_strong_share() -> None:
    points = [at(0.2, 0.66), at(0.4, 0.74)]
    # trapezoids over (0,0) (0.2,0.3) (0.4,0.7) (1,1)
    expected = 0.2 * 0.15 + 0.2 * 0.5 + 0.6 * 0.85
    assert apgr(points, 0.6, 0.8) == pytest.approx(expected)


def test_a_random_router_has_cpt_at_the_diagonal_and_apgr_one_half() -> None:
    diagonal = [at(s, 0.6 + 0.2 * s) for s in (0.25, 0.5, 0.75)]
    assert cpt(diagonal, 0.5, 0.6, 0.8) == pytest.approx(0.5)
    assert cpt(diagonal, 0.8, 0.6, 0.8) == pytest.approx(0.8)
    assert apgr(diagonal, 0.6, 0.8) == pytest.approx(0.5)


def test_headline_figures_and_null_where_never_matched() -> None:
    split = SplitResult(
        n_train=4,
        n_test=4,
        strongest="strong",
        cheapest="weak",
        strongest_quality=0.8,
        cheapest_quality=0.6,
        strongest_cost=50.0,
        results=[],
    )
    router = StrategyResult("r", "router", [at(0.2, 0.66, 20), at(0.4, 0.785, 42), at(1, 0.8, 100)])
    never = StrategyResult("n", "router", [at(0.0, 0.6, 10), at(0.3, 0.77, 30)])
    figures = headline(split, router)
    assert figures["cost_pct_to_match_strongest"] == 100
    assert figures["cost_pct_at_98pct_quality"] == 42  # 0.784 needed
    assert figures["cost_pct_at_95pct_quality"] == 42  # 0.76 needed
    assert figures["best_quality_pct"] == pytest.approx(100)
    assert headline(split, never)["cost_pct_to_match_strongest"] is None
    assert headline(split, never)["cost_pct_at_95pct_quality"] == 30
