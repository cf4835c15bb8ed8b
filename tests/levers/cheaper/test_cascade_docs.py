"""The cascade's TOML examples in the README and the docs are valid settings, and the
self-contained ones start."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from thrifty.config import CascadeSettings, Settings
from thrifty.levers.cheaper.cascade.plan import plans_for

ROOT = Path(__file__).resolve().parents[3]
BLOCK = re.compile(r"```toml\n(.*?)```", re.DOTALL)


def section(path: str, heading: str) -> str:
    text = (ROOT / path).read_text(encoding="utf-8")
    start = text.index(heading)
    level = heading.split(" ")[0]  # "##": up to the next heading of this level or above
    following = re.compile(rf"\n#{{1,{len(level)}}} ").search(text, start + len(heading))
    return text[start : following.start() if following else None]


def blocks(path: str, heading: str) -> list[str]:
    found = BLOCK.findall(section(path, heading))
    assert found, f"no TOML example under {heading!r} in {path}"
    return found


@pytest.mark.parametrize("path", ["README.md", "docs/levers/cheaper-tokens.md"])
def test_the_first_example_starts(path: str) -> None:
    settings = Settings(**tomllib.loads(blocks(path, "## Cascade")[0]))
    plans = plans_for(settings, lambda model: True)
    impact = plans.for_task("impact")
    assert impact is not None and impact.tiers == ("claude-haiku-4-5", "claude-sonnet-4-6")
    assert [s.name for s in impact.signals] == ["schema", "self_reported"]


def test_the_reference_example_is_valid_settings() -> None:
    (toml,) = blocks("docs/configuration.md", "### Cascade")
    cascade = Settings(**tomllib.loads(toml)).levers_for("impact").cascade
    assert cascade.tiers == ("claude-haiku-4-5", "claude-sonnet-4-6")
    assert cascade.target_quality == 0.95 and cascade.min_mean_logprob == -0.3


def test_every_example_in_the_lever_docs_is_valid_settings() -> None:
    found = blocks("docs/levers/cheaper-tokens.md", "## Cascade")
    assert len(found) >= 3
    for toml in found:
        tiers = [cascade.tiers for cascade in _cascades(Settings(**tomllib.loads(toml)))]
        assert tiers and all(len(t) >= 2 for t in tiers)


def _cascades(settings: Settings) -> list[CascadeSettings]:
    return [settings.levers_for(task).cascade for task in settings.tasks]
