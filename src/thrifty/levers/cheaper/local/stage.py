"""The local tier's builder: reads ``[levers.local]`` / ``[tasks.TASK.local]`` and checks
them against the providers at start-up (a mistake is an error naming the task)."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from thrifty.config import LocalSettings, Settings
from thrifty.dispatch import ProviderRegistry
from thrifty.errors import ConfigError
from thrifty.levers.cheaper.local.tier import LocalTier, TaskTier
from thrifty.levers.cheaper.routing import translatable
from thrifty.types import ChatRequest, Stage

if TYPE_CHECKING:
    from thrifty.pipeline import Parts


def _where(task: str | None) -> str:
    return "[levers.local]" if task is None else f"[tasks.{task}.local]"


def task_tier(
    task: str | None, lever: LocalSettings, providers: ProviderRegistry
) -> TaskTier | None:
    """``task``'s tier, or ``None`` when it has none; :class:`ConfigError` (naming the
    task) when its model is not served by a local provider or its fallback by any."""
    if not lever.enabled or lever.model is None:
        return None
    where = _where(task)
    upstream = providers.find(lever.model)
    if upstream is None:
        raise ConfigError(
            f"{where} model {lever.model!r}: no configured provider serves it; add it to "
            "the `models` of a provider with `local = true`"
        )
    if not upstream.local:
        raise ConfigError(
            f"{where} model {lever.model!r} is served by provider {upstream.name!r}, which "
            "is not local: set `local = true` on a provider for the local server"
        )
    if lever.fallback is not None:
        if lever.fallback == lever.model:
            raise ConfigError(f"{where}: fallback {lever.fallback!r} is the local model itself")
        if providers.find(lever.fallback) is None:
            raise ConfigError(
                f"{where} fallback {lever.fallback!r}: no configured provider serves it"
            )
    return TaskTier(
        model=lever.model,
        provider=upstream.name,
        fallback=lever.fallback,
        timeout_s=lever.timeout_s,
    )


def tiers_from(settings: Settings, providers: ProviderRegistry) -> dict[str | None, TaskTier]:
    """Every task's tier (``None``: the ``[levers.local]`` default for other tasks)."""
    tiers: dict[str | None, TaskTier] = {}
    for task in (None, *settings.tasks):
        levers = settings.levers_for(task)
        tier = task_tier(task, levers.local, providers)
        if tier is None:
            continue
        if levers.cascade.enabled and levers.cascade.tiers:
            raise ConfigError(
                f"{_where(task)}: this task also has cascade tiers; a task takes one of the "
                f"two (make {tier.model!r} the cascade's first tier, or turn one off with "
                "`enabled = false`)"
            )
        tiers[task] = tier
    return tiers


async def build(parts: Parts) -> Stage | None:
    tiers = tiers_from(parts.settings, parts.providers)
    if not tiers:
        return None
    if importlib.util.find_spec("jsonschema") is None:
        raise ConfigError(
            "the local tier checks JSON answers with the jsonschema package: "
            "pip install 'thrifty[local]'"
        )
    providers = parts.providers

    def can_take(request: ChatRequest, tier: TaskTier) -> bool:
        upstream = providers.named(tier.provider)
        return upstream is None or translatable(request, upstream.settings.dialect)

    return LocalTier(tiers, can_take)
