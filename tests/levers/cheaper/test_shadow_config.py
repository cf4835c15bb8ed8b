"""Shadow evaluation's start-up: what it needs, and errors that name the task."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.dispatch import ProviderRegistry, Upstream
from thrifty.errors import ConfigError
from thrifty.levers.cheaper.shadow import stage
from thrifty.levers.cheaper.shadow.stage import Shadow, samples_path
from thrifty.pipeline import Parts
from thrifty.pricing import PriceBook

OPENAI = {"dialect": "openai", "base_url": "http://127.0.0.1:9/v1", "models": ["gpt-*"]}


def settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        providers={"openai": OPENAI}, ledger={"path": str(tmp_path / "ledger.db")}, **extra
    )


async def build(config: Settings) -> object:
    registry = ProviderRegistry(
        [Upstream(name=n, settings=p, provider=None) for n, p in config.providers.items()]
    )
    async with AsyncExitStack() as resources:
        parts = Parts(config, PriceBook(), None, registry, resources)  # type: ignore[arg-type]
        return await stage.build(parts)


async def test_off_unless_enabled(tmp_path: Path) -> None:
    assert await build(settings(tmp_path)) is None


async def test_a_configured_task_gets_a_stage_and_a_store_beside_the_ledger(
    tmp_path: Path,
) -> None:
    config = settings(tmp_path, tasks={"qa": {"shadow": {"enabled": True, "model": "gpt-4o"}}})
    assert isinstance(await build(config), Shadow)
    assert samples_path(config, config.levers.shadow) == tmp_path / "ledger-shadow.db"
    assert (tmp_path / "ledger-shadow.db").exists()


@pytest.mark.parametrize(
    ("lever", "says"),
    [
        ({"enabled": True}, r"\[tasks.qa.shadow\]: model .* is required"),
        ({"enabled": True, "model": "claude-x"}, r"\[tasks.qa.shadow\]: no provider serves"),
        (
            {"enabled": True, "model": "gpt-4o", "comparator": "judge"},
            r"\[tasks.qa.shadow\]: the judge comparator needs judge_model",
        ),
        (
            {"enabled": True, "model": "gpt-4o", "comparator": "judge", "judge_model": "c-1"},
            r"\[tasks.qa.shadow\]: no provider serves 'c-1'",
        ),
        (
            {"enabled": True, "model": "gpt-4o", "max_in_flight": 3},
            r"\[tasks.qa.shadow\]: max_in_flight can only be set in \[levers.shadow\]",
        ),
    ],
)
async def test_a_misconfigured_task_is_a_start_up_error_naming_it(
    tmp_path: Path, lever: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        await build(settings(tmp_path, tasks={"qa": {"shadow": lever}}))


@pytest.mark.parametrize(
    "lever",
    [
        {"sample_rate": 1.5},
        {"sample_rate": -0.1},
        {"max_usd_per_day": -1},
        {"max_in_flight": 0},
        {"comparator": "cosine"},
    ],
)
def test_settings_are_bounded(tmp_path: Path, lever: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        settings(tmp_path, levers={"shadow": lever})
