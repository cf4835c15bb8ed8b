"""refuse_task_overrides: a [tasks.T.lever] table may not set a lever-wide setting."""

from __future__ import annotations

from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.errors import ConfigError
from thrifty.levers.lever_wide import refuse_task_overrides


def settings(**tasks: Any) -> Settings:
    return Settings(tasks=tasks)


def test_a_task_setting_only_its_own_keys_passes() -> None:
    config = settings(qa={"shadow": {"enabled": True, "sample_rate": 0.5}}, chat={})
    refuse_task_overrides(config, "shadow", {"path", "max_in_flight"}, "one store")


def test_a_lever_wide_key_in_another_lever_table_is_not_this_lever_s() -> None:
    config = settings(qa={"semantic_cache": {"path": "x.db"}})
    refuse_task_overrides(config, "shadow", {"path"})


def test_the_keys_are_named_sorted_with_the_reason() -> None:
    config = settings(qa={"shadow": {"path": "x.db", "max_in_flight": 2, "enabled": True}})
    with pytest.raises(ConfigError) as caught:
        refuse_task_overrides(config, "shadow", {"path", "max_in_flight"}, "one store")
    assert str(caught.value) == (
        "[tasks.qa.shadow]: max_in_flight, path can only be set in [levers.shadow] (one store)"
    )


def test_without_a_reason_the_message_ends_at_the_lever() -> None:
    config = settings(fast={"learned_routing": {"threads": 2}})
    with pytest.raises(ConfigError) as caught:
        refuse_task_overrides(config, "learned_routing", frozenset({"threads"}))
    assert str(caught.value) == (
        "[tasks.fast.learned_routing]: threads can only be set in [levers.learned_routing]"
    )
