"""Each task's shadow settings, resolved and checked, and where the samples are kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thrifty.config import Settings, ShadowSettings
from thrifty.errors import ConfigError
from thrifty.ledger.money import optional_usd_to_pico
from thrifty.levers.cheaper.shadow.compare import Compare, LlmJudge, TextComparator

if TYPE_CHECKING:
    from thrifty.pipeline import Parts

__all__ = ["STORE_WIDE", "TaskShadow", "samples_path", "task_rules"]

STORE_WIDE = frozenset({"path", "max_in_flight"})  # settings only [levers.shadow] takes


@dataclass(frozen=True)
class TaskShadow:
    """One task's shadow settings, resolved."""

    model: str  # the strong model
    sample_rate: float
    budget_pusd: int  # per UTC day
    compare: Compare
    comparator: str  # its name, kept with each sample
    judge_model: str | None = None


def samples_path(settings: Settings, lever: ShadowSettings) -> Path:
    """``lever.path``, or beside the ledger: ``thrifty.db`` -> ``thrifty-shadow.db``."""
    if lever.path is not None:
        return lever.path
    ledger = settings.ledger.path
    return ledger.with_name(f"{ledger.stem}-shadow{ledger.suffix or '.db'}")


def task_rules(task: str | None, lever: ShadowSettings, parts: Parts) -> TaskShadow:
    """``task``'s settings (``None``: ``[levers.shadow]``), checked against the providers."""
    where = "[levers.shadow]" if task is None else f"[tasks.{task}.shadow]"
    if lever.model is None:
        raise ConfigError(f"{where}: model (the strong model to compare with) is required")
    judge = lever.judge_model if lever.comparator == "judge" else None
    if lever.comparator == "judge" and judge is None:
        raise ConfigError(f"{where}: the judge comparator needs judge_model")
    for model in (lever.model, judge):
        if model is not None and parts.providers.find(model) is None:
            raise ConfigError(f"{where}: no provider serves {model!r}")
    compare: Compare = (
        TextComparator(lever.comparator, lever.json_fields)
        if judge is None
        else LlmJudge(judge, parts.providers)
    )
    return TaskShadow(
        model=lever.model,
        sample_rate=lever.sample_rate,
        budget_pusd=optional_usd_to_pico(lever.max_usd_per_day) or 0,
        compare=compare,
        comparator=lever.comparator,
        judge_model=judge,
    )
