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
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from thrifty.errors import ConfigError

DEFAULT_CONFIG_FILE = "thrifty.toml"
log = logging.getLogger("thrifty")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSettings(_Strict):
    """One upstream.  ``models`` are glob patterns (``fnmatch``) of the model names it serves;
    the first provider (in file order) whose pattern matches wins."""

    dialect: Literal["openai", "anthropic"]
    base_url: str
    api_key_env: str | None = None
    models: tuple[str, ...] = ("*",)
    local: bool = False  # a local server: calls are booked at $0 by this explicit choice
    price_provider: str | None = None  # genai-prices provider id used to price its models
    # Timeouts (docs/configuration.md).  A hung upstream is caught by the short ones
    # (connect, first byte of a stream, silence mid-stream); the long ones only cap work a
    # slow reasoning model may legitimately do, since cutting a call does not stop its bill.
    timeout_s: float = Field(default=600.0, gt=0)  # a whole non-streamed answer; caps all waits
    connect_timeout_s: float = Field(default=5.0, gt=0)  # TCP + TLS to a new connection
    first_byte_timeout_s: float = Field(default=60.0, gt=0)  # a stream's response headers
    stream_idle_timeout_s: float = Field(default=300.0, gt=0)  # silence between stream reads
    stream_timeout_s: float = Field(default=3600.0, gt=0)  # a whole stream

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")


def default_providers() -> dict[str, ProviderSettings]:
    return {
        "openai": ProviderSettings(
            dialect="openai",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            models=("gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "text-*", "ft:*"),
            price_provider="openai",
        ),
        "anthropic": ProviderSettings(
            dialect="anthropic",
            base_url="https://api.anthropic.com",
            api_key_env="ANTHROPIC_API_KEY",
            models=("claude-*",),
            price_provider="anthropic",
        ),
    }


class PriceOverride(_Strict):
    """User rates in US dollars per million tokens.  Cache rates default to the input rate
    when omitted; ``batch_discount`` is the fraction off every rate for Batch API calls.

    ``tiers`` are long-context tiers, in ascending ``above_input_tokens`` order: once a
    call's input tokens exceed a tier's threshold, the whole call is billed at that tier's
    rates (the "cliff" Anthropic and Google bill with).  A tier's omitted cache rates are
    the base cache rates scaled like its input rate (a tier at 2x input has 2x cache rates).

    ``web_search_per_1k`` / ``file_search_per_1k`` are server-side tool fees in US dollars
    per 1,000 uses.  Rates are rounded to 6 decimals (see docs/pricing.md)."""

    class Tier(_Strict):
        """Rates that apply to a whole call above ``above_input_tokens`` input tokens."""

        above_input_tokens: int = Field(ge=0)
        input: Decimal = Field(ge=0)
        output: Decimal = Field(ge=0)
        cache_read: Decimal | None = Field(default=None, ge=0)
        cache_write_5m: Decimal | None = Field(default=None, ge=0)
        cache_write_1h: Decimal | None = Field(default=None, ge=0)

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)
    cache_write_5m: Decimal | None = Field(default=None, ge=0)
    cache_write_1h: Decimal | None = Field(default=None, ge=0)
    batch_discount: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    tiers: tuple[Tier, ...] = ()
    web_search_per_1k: Decimal | None = Field(default=None, ge=0)
    file_search_per_1k: Decimal | None = Field(default=None, ge=0)

    @field_validator("tiers")
    @classmethod
    def _ascending_tiers(
        cls, tiers: tuple[PriceOverride.Tier, ...]
    ) -> tuple[PriceOverride.Tier, ...]:
        previous: int | None = None
        for tier in tiers:
            if previous is not None and tier.above_input_tokens <= previous:
                raise ValueError(
                    "tiers must be in strictly ascending order of above_input_tokens, got "
                    f"{tier.above_input_tokens} after {previous}"
                )
            previous = tier.above_input_tokens
        return tiers


class RoutingSettings(_Strict):
    """Static routing: ``tasks`` maps a task name to a model or alias; ``aliases`` maps a
    name to a real model.  Requests without a mapped task keep the model they asked for."""

    tasks: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    # A task routed to a model of the other dialect, for a request the translation cannot
    # carry (OpenAI `n` > 1, `logprobs`, ... to a Claude model): "skip" the rule and keep
    # the requested model (default), or "error" (a 400 naming the feature).
    on_unsupported: Literal["skip", "error"] = "skip"


class LeverSettings(_Strict):
    """What every lever's settings share: a lever does nothing unless enabled."""

    enabled: bool = False


class OutputSettings(LeverSettings):
    """The output lever: cap the answer's length (``max_tokens``) per task, add stop
    sequences, and flag answers cut by their limit (docs/levers/fewer-tokens.md)."""

    max_output_tokens: int | None = Field(default=None, gt=0)
    # Added to the app's own stop sequences (OpenAI accepts at most 4 in all).
    stop_sequences: tuple[str, ...] = Field(default=(), max_length=4)

    @model_validator(mode="after")
    def _stops_not_empty(self) -> OutputSettings:
        if any(not stop for stop in self.stop_sequences):
            raise ValueError("a stop sequence cannot be empty")
        return self


class CompressSettings(LeverSettings):
    """Prompt compression (docs/levers/fewer-tokens.md, "Compression"): safe,
    deterministic transforms of long prompts; code, numbers, IDs, URLs and quoted text are
    never altered.  A prompt under ``min_tokens`` (estimated) is left untouched."""

    min_tokens: int = Field(default=2000, ge=0)
    minify_json: bool = True
    dedupe: bool = True  # repeated instructions and duplicate paragraphs
    # Few-shot examples (``<example>`` blocks, "## Example" sections) kept per prompt, the
    # most relevant to the last user message; None keeps them all.
    max_examples: int | None = Field(default=None, gt=0)


class HistorySettings(LeverSettings):
    """Chat-history management (docs/levers/fewer-tokens.md, "Chat history"): older turns
    are dropped (``last_n``, ``budget``) or summarised (``summary``) with cut points that
    advance in steps, so the kept prefix stays byte-identical, and cached, across turns."""

    policy: Literal["last_n", "budget", "summary"] = "budget"
    max_turns: int = Field(default=20, gt=0, le=10_000)  # last_n: at least this many kept
    step_turns: int = Field(default=10, gt=0, le=10_000)  # last_n: dropped this many at a time
    budget_tokens: int = Field(default=4000, gt=0)  # budget, summary: history kept at most
    # After a cut, the history kept is at most this share of the budget: the cut then
    # stays put until the history grows back to the budget.
    low_water: float = Field(default=0.5, gt=0, lt=1)
    summary_model: str | None = None  # summary: the cheap model that writes the summary
    summary_max_tokens: int = Field(default=400, gt=0, le=8192)
    max_summaries: int = Field(default=1000, gt=0)  # summaries remembered (LRU)
    # Conversations the gateway keeps by id (x-thrifty-conversation), global settings only.
    conversations_path: str | None = None  # default: next to the ledger
    max_conversations: int = Field(default=10_000, gt=0)
    conversation_max_turns: int = Field(default=200, gt=0, le=100_000)  # messages kept
    conversation_max_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 2**20)
    conversations_max_bytes: int = Field(default=256 * 2**20, ge=1024)  # all of them
    conversation_ttl_s: float = Field(default=7 * 86_400, gt=0)  # since its last turn

    @model_validator(mode="after")
    def _summary_needs_model(self) -> HistorySettings:
        if self.enabled and self.policy == "summary" and not self.summary_model:
            raise ValueError("the summary policy needs summary_model")
        return self


class ContextSettings(LeverSettings):
    """Context selection at the gateway (docs/levers/fewer-tokens.md, "Context selection"):
    a request carrying ``thrifty_context`` (documents, optional query and budget) gets the
    best documents that fit, in its last user message; the field is never sent upstream.
    On by default: it acts only on requests that carry the field."""

    enabled: bool = True
    budget_tokens: int = Field(default=2000, gt=0)  # when the request gives none
    min_tokens: int = Field(default=2000, ge=0)  # documents this small are all kept
    embeddings: bool = False  # rank with the semantic cache's MiniLM embedder too
    lexical_weight: float = Field(default=0.5, ge=0, le=1)
    duplicate_threshold: float = Field(default=0.9, gt=0, le=1)
    max_documents: int = Field(default=1000, gt=0)  # more is a 400


class IdempotencySettings(LeverSettings):
    """The idempotency lever: a request with an ``Idempotency-Key`` it was sent before (same
    tenant, same body) gets the earlier result instead of a new call.  On by default: it
    acts only on requests that carry the header."""

    enabled: bool = True
    ttl_s: float = Field(default=86_400.0, gt=0, le=30 * 86_400)  # how long a result is kept
    backend: Literal["sqlite", "memory"] = "sqlite"
    # The SQLite file; default: next to the ledger (thrifty.db -> thrifty-idempotency.db).
    path: Path | None = None
    max_entries: int = Field(default=100_000, gt=0)
    max_bytes: int = Field(default=256 * 2**20, gt=0)
    max_entry_bytes: int = Field(default=2**20, gt=0)  # a larger answer is not kept


class DebounceSettings(LeverSettings):
    """The debounce lever: a newer request with the same debounce key (and tenant)
    supersedes an older in-flight one, which gets a 409 ``superseded`` error.  On by
    default: it acts only on requests that carry ``x-thrifty-debounce``.  ``wait_ms``:
    how long a request waits before calling, so that a burst costs one call."""

    enabled: bool = True
    wait_ms: float = Field(default=0.0, ge=0, le=60_000)


class CoalesceSettings(LeverSettings):
    """The coalescing lever: identical in-flight requests share one upstream call.  On by
    default for requests whose answer does not depend on sampling (temperature 0, top_k
    1, a seed, embeddings); ``sampled = true`` coalesces sampled requests too."""

    enabled: bool = True
    sampled: bool = False


class CacheSettings(LeverSettings):
    """The exact cache (memoization) lever: an identical request is answered from the
    stored answer, at no cost (docs/levers/fewer-calls.md, "Exact cache").

    On by default for deterministic requests only (``mode = "deterministic"``: the app set
    ``temperature`` to 0); ``mode = "always"`` memoizes every request of a task.
    ``enabled``, ``mode`` and ``ttl_s`` may differ per task; the store settings
    (``backend``, ``path`` and the bounds) are shared by every task and belong in
    ``[levers.cache]`` only."""

    enabled: bool = True
    mode: Literal["deterministic", "always"] = "deterministic"
    ttl_s: float | None = Field(default=86_400.0, gt=0)  # None: kept until evicted
    backend: Literal["sqlite", "memory"] = "sqlite"
    path: Path | None = None  # default: next to the ledger (thrifty.db -> thrifty-cache.db)
    max_entries: int = Field(default=100_000, gt=0)
    max_bytes: int = Field(default=256 * 2**20, gt=0)
    max_entry_bytes: int = Field(default=2**20, gt=0)  # a bigger answer is not stored

    @model_validator(mode="after")
    def _entry_fits(self) -> CacheSettings:
        if self.max_entry_bytes > self.max_bytes:
            raise ValueError("max_entry_bytes cannot exceed max_bytes")
        return self


class SemanticCacheSettings(LeverSettings):
    """The semantic cache lever (opt-in per task; docs/levers/fewer-calls.md).  ``path``,
    ``calibration_path``, ``max_entries`` and ``threads`` are read from
    ``[levers.semantic_cache]`` only (one store and one model serve every task)."""

    target_false_hit_rate: float = Field(default=0.02, gt=0, lt=1)
    threshold: float | None = Field(default=None, gt=0, le=1)  # overrides the calibration
    min_similarity: float = Field(default=0.80, ge=0, le=1)  # below: not even a candidate
    explore_rate: float = Field(default=0.05, ge=0, le=1)  # would-be hits checked upstream
    comparator: Literal["exact", "normalised", "json", "judge"] = "normalised"
    json_fields: tuple[str, ...] = ()  # the fields the json comparator compares (all: ())
    judge_model: str | None = None  # the model the "judge" comparator asks (a paid call)
    ttl_s: float | None = Field(default=None, gt=0)  # entries older than this are not served
    max_entries: int = Field(default=100_000, gt=0)  # a full store stores no more
    path: Path | None = None  # default: next to the ledger (thrifty.db -> thrifty-semantic.db)
    calibration_path: Path | None = None  # a table written by `thrifty eval cache --save`
    threads: int = Field(default=1, ge=1, le=64)  # the embedding model's CPU threads


class LearnedRoutingSettings(LeverSettings):
    """The learned router (docs/levers/cheaper-tokens.md): a router file written by
    ``thrifty route train`` picks, from the prompt alone, the cheapest of its candidate
    models predicted adequate.  ``model_file`` is required when enabled; ``threads`` is
    read from ``[levers.learned_routing]`` only."""

    model_file: Path | None = None
    candidates: tuple[str, ...] = ()  # the file's models it may pick (empty: all it has)
    quality_target: float = Field(default=0.98, gt=0, le=1)  # share of the strongest's quality
    threshold: float | None = Field(default=None, ge=0, le=1)  # overrides the file's choice
    threads: int = Field(default=1, ge=1, le=64)  # the embedding model's CPU threads


class ShadowSettings(LeverSettings):
    """Shadow evaluation (docs/levers/cheaper-tokens.md): a sampled, budgeted share of
    the requests a cheaper model answered is also sent to ``model`` in the background and
    the answers compared.  ``path`` and ``max_in_flight`` are read from ``[levers.shadow]``
    only; ``max_usd_per_day`` is each task's own budget (UTC days)."""

    model: str | None = None  # the strong model; required when enabled
    sample_rate: float = Field(default=0.05, ge=0, le=1)
    max_usd_per_day: Decimal = Field(default=Decimal(1), ge=0, le=1_000_000)
    comparator: Literal["exact", "normalised", "json", "judge"] = "normalised"
    json_fields: tuple[str, ...] = ()  # the fields the json comparator compares (all: ())
    judge_model: str | None = None  # the model the judge comparator asks; required for it
    max_in_flight: int = Field(default=8, gt=0, le=1024)  # shadow calls at once, all tasks
    path: Path | None = None  # default: next to the ledger (thrifty.db -> thrifty-shadow.db)


class CascadeSettings(LeverSettings):
    """The escalation cascade (docs/levers/cheaper-tokens.md, "Cascade"): ``tiers``, cheapest
    first, are tried in turn; a tier's answer is accepted when every configured signal
    passes, else (or when it fails) the next tier is called.  The last tier always answers.
    On for a task whose ``tiers`` are set."""

    enabled: bool = True
    tiers: tuple[str, ...] = ()
    json_schema: dict[str, Any] | None = None  # the answer must be JSON valid against it
    json_schema_path: Path | None = None  # the same, read from a file
    regex: str | None = None  # the answer text must match (re.search)
    function: str | None = None  # "module:name", called (request, answer) -> bool
    confidence_field: str | None = None  # a self-reported level in the JSON answer
    confidence_accept: tuple[str, ...] = ("high",)  # the levels accepted
    min_mean_logprob: float | None = Field(default=None, le=0)  # OpenAI-dialect tiers
    agreement: bool = False  # a second cheap answer must agree with the first
    agreement_model: str | None = None  # who gives it (default: the tier's model again)
    scorer_path: Path | None = None  # `thrifty eval route --fit-cascade` output
    target_quality: float | None = Field(default=None, gt=0, le=1)  # picks its threshold
    tier_timeout_s: float | None = Field(default=None, gt=0)  # a slower tier escalates
    stream_first_tier: bool = False  # stream tier 0 live (no confidence escalation)


class LocalSettings(LeverSettings):
    """The local tier (docs/levers/cheaper-tokens.md, "Local tier"): a task's requests go
    first to ``model``, served by a provider with ``local = true`` ($0); when the request
    asks for JSON the answer must be valid JSON (valid against the request's schema, if it
    gives one).  An invalid answer, a local server that is down, slow (``timeout_s``) or
    failing sends the request to ``fallback`` (default: the model it would have called).
    On for a task whose ``model`` is set."""

    enabled: bool = True
    model: str | None = None  # the local model; its provider must have local = true
    fallback: str | None = None  # the hosted model (default: the model the request calls)
    timeout_s: float = Field(default=30.0, gt=0, le=3600)  # the local try's whole deadline


class PromptCacheSettings(LeverSettings):
    """The prompt-cache planner (docs/levers/fewer-tokens.md, "Prompt caching").
    ``max_prefixes`` is read from ``[levers.prompt_cache]`` only (one tracker serves every
    task)."""

    first_sight: bool = False  # cache a prefix the first time it is seen (a bet on reuse)
    allow_1h: bool = True  # the 1-hour lifetime, for prefixes reused every 5-60 minutes
    min_uses_for_1h: int = Field(default=2, ge=1, le=1000)
    min_tokens: int | None = Field(default=None, gt=0)  # Anthropic minimum; None: by model
    move_volatile_lines: bool = True  # dates/timestamps moved after the stable prompt
    prompt_cache_key: bool = True  # OpenAI: set prompt_cache_key per prefix
    unstable_window: int = Field(default=8, ge=2, le=1000)  # flag after N distinct prefixes
    max_prefixes: int = Field(default=10_000, ge=1, le=10_000_000)


class LeversSettings(_Strict):
    """``[levers.NAME]``: each lever's defaults.  ``[tasks.TASK.NAME]`` overrides them
    for one task (only the keys given).  One field per lever."""

    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    debounce: DebounceSettings = Field(default_factory=DebounceSettings)
    coalesce: CoalesceSettings = Field(default_factory=CoalesceSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    semantic_cache: SemanticCacheSettings = Field(default_factory=SemanticCacheSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    prompt_cache: PromptCacheSettings = Field(default_factory=PromptCacheSettings)
    compress: CompressSettings = Field(default_factory=CompressSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    context: ContextSettings = Field(default_factory=ContextSettings)
    cascade: CascadeSettings = Field(default_factory=CascadeSettings)
    learned_routing: LearnedRoutingSettings = Field(default_factory=LearnedRoutingSettings)
    shadow: ShadowSettings = Field(default_factory=ShadowSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)


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


class GatewaySettings(_Strict):
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


class LedgerSettings(_Strict):
    path: Path = Path("thrifty.db")


class BatchSettings(_Strict):
    """Provider Batch APIs (docs/batch.md): the durable queue of deferred requests and the
    poller that follows their provider jobs."""

    # The queue's SQLite file; default: next to the ledger (thrifty.db -> thrifty-batch.db).
    path: Path | None = None
    poll_interval_s: float = Field(default=30.0, gt=0, le=3600)  # between two job checks
    max_attempts: int = Field(default=3, ge=1, le=10)  # a failed item is sent again this often
    webhook_url: str | None = None  # POSTed a JSON summary when a submission completes


class SimulatorSettings(_Strict):
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
