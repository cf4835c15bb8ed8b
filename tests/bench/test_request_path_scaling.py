"""bench/request_path_scaling.py's scans run on small inputs: the benchmark calls into the
code it times by name, and a rename there must fail here, not when someone next runs it."""

from __future__ import annotations

import pytest

from bench import request_path_scaling as scaling


@pytest.mark.parametrize(
    ("what", "scan", "make"),
    [(what, scan, make) for what, scan, make, _ in scaling.CASES],
    ids=[case[0] for case in scaling.CASES],
)
def test_each_scan_runs(what: str, scan: object, make: object) -> None:
    assert callable(scan) and callable(make)
    scan(make(8))


def test_the_side_route_body_is_joined_whole() -> None:
    assert scaling._side_route_body(5) == b"01234567" * 5
