"""The documented TOML of the learned router and shadow evaluation is valid as written."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.levers.cheaper.test_local_config import toml_blocks
from thrifty.config import Settings

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_configuration_reference_validates() -> None:
    (learned,) = toml_blocks(DOCS / "configuration.md", "### Learned router")
    settings = Settings(**tomllib.loads(learned))
    lever = settings.levers_for("qa").learned_routing
    assert lever.enabled and lever.model_file == Path("router.json")
    assert lever.quality_target == 0.98 and settings.levers.learned_routing.threads == 1
    (shadow,) = toml_blocks(DOCS / "configuration.md", "### Shadow evaluation")
    settings = Settings(**tomllib.loads(shadow))
    task = settings.levers_for("qa").shadow
    assert task.enabled and task.model == "gpt-4o" and task.sample_rate == 0.05
    assert settings.levers.shadow.max_in_flight == 8


def test_the_lever_page_validates() -> None:
    page = DOCS / "levers" / "cheaper-tokens.md"
    (learned,) = toml_blocks(page, "## Learned router")
    settings = Settings(**tomllib.loads(learned))
    assert settings.levers_for("qa").learned_routing.model_file == Path("router.json")
    assert settings.routing.aliases == {"mistralai/mixtral-8x7b-chat": "gpt-4o-mini"}
    (shadow,) = toml_blocks(page, "## Shadow evaluation")
    lever = Settings(**tomllib.loads(shadow)).levers_for("qa").shadow
    assert lever.comparator == "normalised" and lever.max_usd_per_day == 2
