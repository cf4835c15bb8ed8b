"""Settings: a TOML file plus ``THRIFTY_*`` environment variables (environment wins).

Nothing here is global: :func:`load_settings` returns a fresh, validated :class:`Settings`
that is passed explicitly to :func:`thrifty.pipeline.build_pipeline` and friends.
Nested keys use ``__`` in the environment, e.g. ``THRIFTY_GATEWAY__PORT=9000``.
See docs/configuration.md for every key.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from thrifty.errors import ConfigError
from thrifty.lever_settings import (
    CacheSettings as CacheSettings,
)
from thrifty.lever_settings import (
    CascadeSettings as CascadeSettings,
)
from thrifty.lever_settings import (
    CoalesceSettings as CoalesceSettings,
)
from thrifty.lever_settings import (
    CompressSettings as CompressSettings,
)
from thrifty.lever_settings import (
    ContextSettings as ContextSettings,
)
from thrifty.lever_settings import (
    DebounceSettings as DebounceSettings,
)
from thrifty.lever_settings import (
    HistorySettings as HistorySettings,
)
from thrifty.lever_settings import (
    IdempotencySettings as IdempotencySettings,
)
from thrifty.lever_settings import (
    LearnedRoutingSettings as LearnedRoutingSettings,
)
from thrifty.lever_settings import (
    LeverSettings as LeverSettings,
)
from thrifty.lever_settings import (
    LeversSettings as LeversSettings,
)
from thrifty.lever_settings import (
    LocalSettings as LocalSettings,
)
from thrifty.lever_settings import (
    OutputSettings as OutputSettings,
)
from thrifty.lever_settings import (
    PromptCacheSettings as PromptCacheSettings,
)
from thrifty.lever_settings import (
    SemanticCacheSettings as SemanticCacheSettings,
)
from thrifty.lever_settings import (
    ShadowSettings as ShadowSettings,
)
from thrifty.lever_settings import StrictSettings
from thrifty.upstream_settings import PriceOverride as PriceOverride
from thrifty.upstream_settings import ProviderSettings as ProviderSettings
from thrifty.upstream_settings import default_providers as default_providers

DEFAULT_CONFIG_FILE = "thrifty.toml"
log = logging.getLogger("thrifty")


class RoutingSettings(StrictSettings):
    """Static routing: ``tasks`` maps a task name to a model or alias; ``aliases`` maps a
    name to a real model.  Requests without a mapped task keep the model they asked for."""

    tasks: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    # A task routed to a model of the other dialect, for a request the translation cannot
    # carry (OpenAI `n` > 1, `logprobs`, ... to a Claude model): "skip" the rule and keep
    # the requested model (default), or "error" (a 400 naming the feature).
    on_unsupported: Literal["skip", "error"] = "skip"


class TaskSettings(BaseModel):
    """``[tasks.TASK]``: ``model`` routes the task (a model or an alias); a sub-table per
    lever (``[tasks.TASK.output]``) overrides that lever's defaults for the task."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str | None = None

    @model_validator(mode="after")
    def _known_levers(self) -> TaskSettings:
        known = set(LeversSettings.model_fields)
        for name, value in (self.model_extra or {}).items():
            if name not in known:
                raise ValueError(
                    f"unknown key {name!r} in a task: expected 'model' or a lever table "
                    f"({', '.join(sorted(known))})"
                )
            if not isinstance(value, dict):
                raise ValueError(f"[tasks.*.{name}] must be a table of {name} settings")
        return self

    def overrides(self) -> dict[str, dict[str, Any]]:
        """lever name -> the keys this task overrides."""
        return {k: dict(v) for k, v in (self.model_extra or {}).items()}


class GatewaySettings(StrictSettings):
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    task_header: str = "x-thrifty-task"
    tenant_header: str = "x-thrifty-tenant"
    # Gateway keys (``thrifty keys create``): required when any key exists, when this is
    # true, and whenever the gateway binds beyond loopback.
    require_auth: bool = False
    keys_path: Path | None = None  # default: next to the ledger (thrifty.db -> thrifty-keys.db)
    # Upstream calls in flight at once, over every provider (the HTTP pool's connection
    # limit).  LLM calls take seconds, so this is sized for thousands: with a 1 s upstream,
    # throughput is at most this many calls per second.  Each costs two file descriptors.
    max_upstream_connections: int = Field(default=4096, gt=0)
    # Client connections the server holds at once (uvicorn's limit_concurrency): each
    # holds one call for as long as the model takes, so a 503 comes only beyond this many.
    # ``thrifty serve`` raises its open-file limit to cover both limits.
    max_connections: int = Field(default=10_000, gt=1)


class LedgerSettings(StrictSettings):
    path: Path = Path("thrifty.db")

    def beside(self, name: str) -> Path:
        """A store's file next to the ledger: ``thrifty.db`` -> ``thrifty-NAME.db``."""
        ledger = Path(self.path)
        return ledger.with_name(f"{ledger.stem}-{name}.db")


class BatchSettings(StrictSettings):
    """Provider Batch APIs (docs/batch.md): the durable queue of deferred requests and the
    poller that follows their provider jobs."""

    # The queue's SQLite file; default: next to the ledger (thrifty.db -> thrifty-batch.db).
    path: Path | None = None
    poll_interval_s: float = Field(default=30.0, gt=0, le=3600)  # between two job checks
    max_attempts: int = Field(default=3, ge=1, le=10)  # a failed item is sent again this often
    webhook_url: str | None = None  # POSTed a JSON summary when a submission completes


class SimulatorSettings(StrictSettings):
    """The simulator ``thrifty serve`` starts when no provider key is set.  ``port = 0``
    (the default) picks a free port."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    latency_ms: float = Field(default=0.0, ge=0)
    stream_chunk_delay_ms: float = Field(default=0.0, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="THRIFTY_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)
    providers: dict[str, ProviderSettings] = Field(default_factory=default_providers)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    levers: LeversSettings = Field(default_factory=LeversSettings)
    tasks: dict[str, TaskSettings] = Field(default_factory=dict)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    # Point every provider of one dialect at another base URL (a self-hosted server, a
    # benchmark upstream, the simulator).
    openai_base_url: str | None = None
    anthropic_base_url: str | None = None
    # Use the built-in simulator as upstream.  ``None`` = automatic: on when no configured
    # provider has its API key in the environment and no base URL override is given.
    simulate: bool | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (passed as init kwargs by load_settings).
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _tasks_consistent(self) -> Settings:
        for name, task in self.tasks.items():
            routed = self.routing.tasks.get(name)
            if task.model is not None and routed is not None and routed != task.model:
                raise ValueError(
                    f"task {name!r} is routed twice: [tasks.{name}] model = {task.model!r} "
                    f"and [routing.tasks] {name} = {routed!r}; keep one"
                )
            self.levers_for(name)  # every override must validate
        return self

    def task_routes(self) -> dict[str, str]:
        """task -> model or alias, from ``[tasks.T] model`` and ``[routing.tasks]``."""
        routes = dict(self.routing.tasks)
        routes.update({n: t.model for n, t in self.tasks.items() if t.model is not None})
        return routes

    def levers_for(self, task: str | None) -> LeversSettings:
        """The lever settings that apply to ``task``: the ``[levers.*]`` defaults with
        ``[tasks.TASK.*]`` overrides merged in, key by key."""
        entry = self.tasks.get(task) if task is not None else None
        if entry is None or not entry.model_extra:
            return self.levers
        data = self.levers.model_dump()
        for lever, keys in entry.overrides().items():
            data[lever] = {**data[lever], **keys}
        try:
            return LeversSettings.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"[tasks.{task}]: {exc}") from None

    def uses_simulator(self, environ: Mapping[str, str] | None = None) -> bool:
        """Whether the built-in simulator stands in for the providers.  Explicitly
        configured providers are always used (a keyless vLLM or llama.cpp server is a real
        upstream); the simulator is the default only for the built-in OpenAI and Anthropic
        providers when neither key is set, and ``simulate`` forces it either way."""
        if self.simulate is not None:
            return self.simulate
        env = os.environ if environ is None else environ
        if self.openai_base_url or self.anthropic_base_url:
            return False
        if self.providers != default_providers():
            return False
        return not any(p.api_key_env and env.get(p.api_key_env) for p in self.providers.values())


class _SettingsFromData(Settings):
    """Validates an already-merged dict without reading the environment again."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(config_path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read settings from ``config_path`` (or ``$THRIFTY_CONFIG``, or ``./thrifty.toml`` if it
    exists), then the environment.  Keyword ``overrides`` (from CLI flags, nested dicts for
    sections, ``None`` meaning "not given") win over both."""
    path_text = config_path or os.environ.get("THRIFTY_CONFIG")
    path = Path(path_text) if path_text else Path(DEFAULT_CONFIG_FILE)
    data: dict[str, Any] = {}
    if path.exists():
        log.info("config: %s", path.resolve())
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    elif path_text:
        raise ConfigError(f"config file not found: {path}")
    else:
        log.info("config: no %s here; defaults and THRIFTY_* environment", DEFAULT_CONFIG_FILE)
    try:
        settings = Settings(**data)
        if overrides:
            merged = _deep_merge(settings.model_dump(), overrides)
            settings = _SettingsFromData.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings ({path}): {exc}") from exc
    return settings
