"""Every benchmark script imports: they call into the package by name, and a rename there
must fail here, not when someone next runs the benchmark (none of them is run here)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted(p.stem for p in (Path(__file__).parents[2] / "bench").glob("*.py"))


def test_the_scripts_are_found() -> None:
    assert "fewer_tokens_overhead" in SCRIPTS and "request_path_scaling" in SCRIPTS


@pytest.mark.parametrize("name", [s for s in SCRIPTS if s != "__init__"])
def test_imports(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert module.__doc__, f"bench/{name}.py says what it measures and how to run it"
