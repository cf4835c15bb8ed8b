"""The local tier's settings: start-up checks that name the task, and the builder."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.dispatch import ProviderRegistry, Upstream
from thrifty.errors import ConfigError
from thrifty.levers.cheaper.local import stage
from thrifty.levers.cheaper.local.tier import LocalTier, TaskTier
from thrifty.pipeline import Parts
from thrifty.pricing import PriceBook
from thrifty.testing import FakeUpstream, reply, request_for

LLAMA = {
    "dialect": "openai",
    "base_url": "http://127.0.0.1:9/v1",
    "models": ["smollm2", "qwen*"],
    "local": True,
}
OPENAI = {"dialect": "openai", "base_url": "http://127.0.0.1:9/v1", "models": ["gpt-*"]}
ANTHROPIC = {"dialect": "anthropic", "base_url": "http://127.0.0.1:9", "models": ["claude-*"]}


def settings(**extra: Any) -> Settings:
    providers = {"llama": LLAMA, "openai": OPENAI, "anthropic": ANTHROPIC}
    return Settings(providers=providers, **extra)


def registry(config: Settings) -> ProviderRegistry:
    return ProviderRegistry(
        [Upstream(name=n, settings=p, provider=None) for n, p in config.providers.items()]
    )


def tiers(**extra: Any) -> dict[str | None, TaskTier]:
    config = settings(**extra)
    return stage.tiers_from(config, registry(config))


def test_a_task_with_a_local_model_gets_a_tier() -> None:
    found = tiers(
        tasks={
            "extract": {"local": {"model": "smollm2", "fallback": "gpt-4o-mini", "timeout_s": 9}},
            "chat": {"model": "gpt-4o-mini"},
        }
    )
    assert found == {
        "extract": TaskTier(model="smollm2", provider="llama", fallback="gpt-4o-mini", timeout_s=9)
    }


def test_the_default_tier_applies_to_every_task_unless_turned_off() -> None:
    found = tiers(
        levers={"local": {"model": "qwen2.5"}},
        tasks={"keep": {"model": "gpt-4o"}, "off": {"local": {"enabled": False}}},
    )
    assert set(found) == {None, "keep"}
    assert found[None].model == "qwen2.5" and found[None].fallback is None


def test_no_local_model_means_no_tier() -> None:
    assert tiers() == {}
    assert tiers(tasks={"t": {"local": {"fallback": "gpt-4o"}}}) == {}
    assert tiers(tasks={"t": {"local": {"model": "smollm2", "enabled": False}}}) == {}


@pytest.mark.parametrize(
    ("local", "message"),
    [
        ({"model": "mystery"}, r"\[tasks.extract.local\] model 'mystery': no configured provider"),
        ({"model": "gpt-4o-mini"}, r"provider 'openai', which is not local"),
        ({"model": "smollm2", "fallback": "mystery"}, r"fallback 'mystery': no configured"),
        ({"model": "smollm2", "fallback": "smollm2"}, r"is the local model itself"),
    ],
)
def test_a_misconfigured_tier_is_a_start_up_error_naming_the_task(
    local: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        tiers(tasks={"extract": {"local": local}})


def test_the_default_tier_is_named_by_its_table() -> None:
    with pytest.raises(ConfigError, match=r"\[levers.local\] model 'gpt-4o'"):
        tiers(levers={"local": {"model": "gpt-4o"}})


def test_a_task_cannot_have_both_a_local_tier_and_a_cascade() -> None:
    with pytest.raises(ConfigError, match=r"\[tasks.impact.local\].*cascade tiers"):
        tiers(
            tasks={
                "impact": {
                    "local": {"model": "smollm2"},
                    "cascade": {"tiers": ["claude-haiku-4-5", "claude-sonnet-4-6"]},
                }
            }
        )


@pytest.mark.parametrize("timeout", [0, -1, 3601])
def test_the_deadline_is_bounded(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        settings(tasks={"t": {"local": {"model": "smollm2", "timeout_s": timeout}}})


async def build(config: Settings, tmp_path: Path) -> object:
    async with AsyncExitStack() as resources:
        parts = Parts(config, PriceBook(), None, registry(config), resources)  # type: ignore[arg-type]
        return await stage.build(parts)


async def test_the_builder_is_off_without_tiers(tmp_path: Path) -> None:
    assert await build(settings(), tmp_path) is None


async def test_the_builder_can_take_what_the_local_dialect_carries(tmp_path: Path) -> None:
    config = settings(tasks={"t": {"local": {"model": "smollm2"}}})
    built = await build(config, tmp_path)
    assert isinstance(built, LocalTier)
    upstream = FakeUpstream(lambda request: reply(request, "ok", provider="llama"))
    handler = built(upstream)
    plain = await handler(request_for("claude-sonnet-4-6", dialect="anthropic", task="t"))
    assert plain.headers["local"] == "served"
    # An Anthropic server tool has no OpenAI form: the local (OpenAI-dialect) server is skipped.
    tool = {"type": "web_search_20250305", "name": "web_search"}
    request = request_for("claude-sonnet-4-6", dialect="anthropic", task="t", tools=[tool])
    skipped = await handler(request)
    assert skipped.headers["local"] == "skipped"
    assert [r.model for r in upstream.requests] == ["smollm2", "claude-sonnet-4-6"]


async def test_the_builder_needs_jsonschema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def without_jsonschema(name: str, *args: Any) -> Any:
        return None if name == "jsonschema" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_jsonschema)
    config = settings(tasks={"t": {"local": {"model": "smollm2"}}})
    with pytest.raises(ConfigError, match=r"pip install 'thrifty\[local\]'"):
        await build(config, tmp_path)


DOCS = Path(__file__).resolve().parents[3] / "docs"


def toml_blocks(path: Path, section: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    start = text.index(section)
    end = text.find("\n#", start + len(section))
    return re.findall(r"```toml\n(.*?)```", text[start : end if end > 0 else None], re.S)


def test_the_documented_configuration_starts() -> None:
    (block, *_) = toml_blocks(DOCS / "levers" / "cheaper-tokens.md", "## Local tier")
    config = Settings(**tomllib.loads(block))
    found = stage.tiers_from(config, registry(config))
    assert found == {
        "extract": TaskTier(model="smollm2", provider="llama", fallback="gpt-4o-mini", timeout_s=30)
    }
    (task_block,) = toml_blocks(DOCS / "configuration.md", "### Local tier")
    local = {"model": "smollm2", "fallback": "gpt-4o-mini", "timeout_s": 30}
    assert tomllib.loads(task_block) == {"tasks": {"extract": {"local": local}}}
