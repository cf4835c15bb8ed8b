"""Calibration math: Wilson bounds, the chosen thresholds, the table file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from thrifty.errors import ConfigError
from thrifty.levers.fewer_calls.semantic.calibration import (
    Z_95,
    Tally,
    calibrate,
    threshold_for,
    wilson_bounds,
)
from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder
from thrifty.levers.fewer_calls.semantic.table import (
    SHIPPED_TABLE,
    dump_table,
    load_calibration,
    load_table,
)


def test_wilson_bounds_by_hand() -> None:
    # 0 failures in 100: upper = z^2 / (n + z^2) = 3.8415 / 103.8415
    low, high = wilson_bounds(0, 100)
    assert low == 0.0
    assert math.isclose(high, 1.959964**2 / (100 + 1.959964**2), rel_tol=1e-9)
    # 10 in 100: the textbook interval [0.0552, 0.1744]
    low, high = wilson_bounds(10, 100)
    assert round(low, 4) == 0.0552 and round(high, 4) == 0.1744
    assert wilson_bounds(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_bounds(5, 4)


def test_calibrate_picks_the_lowest_threshold_whose_upper_bound_fits() -> None:
    # 200 right pairs at 0.99..0.8905, then 20 wrong at 0.885..0.79.
    sims = [0.99 - i * 0.0005 for i in range(200)]
    sims += [0.885 - i * 0.005 for i in range(20)]
    same = [True] * 200 + [False] * 20
    chosen = calibrate(sims, same, [0.02, 0.05], min_hits=30, z=Z_95)
    # Every threshold down to 0.8905 keeps 0 wrong in 200 (upper 0.0188 <= 0.02); the first
    # wrong pair (0.885) brings 1/201 (upper 0.0276): over 2%, within 5%.
    assert chosen[0.02] == pytest.approx(sims[199])
    high_at = [wilson_bounds(k, 200 + k)[1] for k in range(1, 21)]
    last_ok = max(k for k, h in enumerate(high_at, start=1) if h <= 0.05)
    assert chosen[0.05] == pytest.approx(sims[199 + last_ok])


def test_calibrate_says_none_when_no_threshold_meets_the_target() -> None:
    sims = [0.9, 0.8, 0.7] * 20
    same = [False, True, True] * 20
    assert calibrate(sims, same, [0.01], min_hits=30, z=Z_95) == {0.01: None}


def test_calibrate_never_splits_equal_similarities() -> None:
    # 30 right at 0.95, then 40 at 0.9 whose last 10 are wrong.  Cut inside the tie, the
    # first 30 of them would look clean (0/60); a threshold takes all 40 (10/70, upper 0.24).
    sims = [0.95] * 30 + [0.9] * 40
    same = [True] * 60 + [False] * 10
    assert calibrate(sims, same, [0.2], min_hits=30, z=Z_95) == {0.2: 0.95}


def test_calibrate_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        calibrate([0.5], [True, False], [0.02])
    with pytest.raises(ValueError):
        calibrate([0.5], [True], [1.5])


def test_threshold_for_takes_the_strictest_calibrated_target_within_budget() -> None:
    table = {0.01: 0.97, 0.05: 0.9}
    assert threshold_for(0.05, table) == 0.9
    assert threshold_for(0.03, table) == 0.97
    assert threshold_for(0.005, table) is None


def test_the_shipped_table_reads_back_and_tightens_with_the_budget() -> None:
    shipped = load_calibration(SHIPPED_TABLE, MiniLMEmbedder.model_id)
    assert set(shipped.thresholds) >= {0.02, 0.05}
    served = [t for _, t in sorted(shipped.thresholds.items()) if t is not None]
    assert served and all(0 < t <= 1 for t in served)
    assert served == sorted(served, reverse=True)


def test_tally_estimates_the_error_rate() -> None:
    tally = Tally()
    assert tally.describe() == "unknown n=0" and tally.rate is None
    for agreed in [True] * 9 + [False]:
        tally.add(agreed)
    assert tally.rate == 0.1
    assert tally.describe().startswith("0.100 [") and tally.describe().endswith("n=10")


def test_table_file_round_trips_and_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    path.write_bytes(dump_table("m", {0.02: 0.95, 0.01: None}))
    assert load_table(path, "m") == {0.02: 0.95, 0.01: None}
    with pytest.raises(ConfigError, match="made with 'm'"):
        load_table(path, "other")
    for bad in (
        b"{",
        b"[]",
        b'{"model_id": "m", "thresholds": {"2": 0.9}}',
        b'{"model_id": "m", "thresholds": {"0.02": 1.5}}',
        b'{"model_id": "m", "thresholds": {"x": 0.9}}',
        b'{"model_id": "m", "thresholds": {"0.02": true}}',
    ):
        path.write_bytes(bad)
        with pytest.raises(ConfigError):
            load_table(path, "m")
    with pytest.raises(ConfigError, match="unreadable"):
        load_table(tmp_path / "missing.json", "m")


def test_calibrate_stops_at_the_first_threshold_that_fails() -> None:
    # The 40 most similar pairs hold 6 wrong (upper bound 0.29); below them 400 right pairs
    # bring the share at the lowest threshold to 6/440 (upper bound 0.030, within 5%).  The
    # search from the strictest threshold fails at once: no threshold, rather than a low
    # one found by trying many.
    sims = [0.999 - i * 0.0001 for i in range(440)]
    same = [True, False] * 6 + [True] * 28 + [True] * 400
    assert wilson_bounds(6, 440)[1] <= 0.05
    assert calibrate(sims, same, [0.05, 0.3], min_hits=30, z=Z_95)[0.05] is None
    # At 40% every threshold's bound fits (6 of the first 30: 0.373): the lowest is taken.
    assert calibrate(sims, same, [0.4], min_hits=30, z=Z_95) == {0.4: pytest.approx(sims[-1])}


def test_a_target_is_tested_from_as_many_pairs_as_it_needs() -> None:
    # 0 wrong among n has the upper bound z^2 / (n + z^2): within 2% from n = 189 on.
    assert wilson_bounds(0, 188)[1] > 0.02 >= wilson_bounds(0, 189)[1]
    sims = [1 - i * 0.0001 for i in range(189)]
    assert calibrate(sims, [True] * 189, [0.02], z=Z_95) == {0.02: pytest.approx(sims[-1])}
    assert calibrate(sims[:188], [True] * 188, [0.02], z=Z_95) == {0.02: None}


def test_calibration_bounds_at_99_percent_by_default() -> None:
    # 2 wrong among the 150 most similar pairs: 95% upper bound 0.047, 99% upper 0.063.
    sims = [1 - i * 0.0001 for i in range(150)]
    same = [False, False] + [True] * 148
    assert wilson_bounds(2, 150)[1] <= 0.05 < wilson_bounds(2, 150, 2.575829)[1]
    assert calibrate(sims, same, [0.05], min_hits=150, z=Z_95) == {0.05: pytest.approx(sims[-1])}
    assert calibrate(sims, same, [0.05], min_hits=150) == {0.05: None}
