"""Settings a lever takes only in ``[levers.NAME]``: one store, model or limit serves every
task, so a ``[tasks.TASK.NAME]`` table that sets one is refused at start-up."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from thrifty.errors import ConfigError

if TYPE_CHECKING:
    from thrifty.config import Settings

__all__ = ["refuse_task_overrides"]


def refuse_task_overrides(
    settings: Settings, lever: str, names: Collection[str], why: str = ""
) -> None:
    """A :class:`ConfigError` naming the first task whose ``[tasks.TASK.<lever>]`` sets any
    of ``names`` (sorted), and ``why`` when given."""
    for task, entry in settings.tasks.items():
        shared = set(names) & set(entry.overrides().get(lever, {}))
        if shared:
            reason = f" ({why})" if why else ""
            raise ConfigError(
                f"[tasks.{task}.{lever}]: {', '.join(sorted(shared))} can only be set in "
                f"[levers.{lever}]{reason}"
            )
