"""Each lever's settings: ``[levers.NAME]`` defaults and ``[tasks.TASK.NAME]`` overrides
(merged by :meth:`thrifty.config.Settings.levers_for`).  One class per lever, and
:class:`LeversSettings`, the ``[levers]`` table; docs/configuration.md has every key.
:mod:`thrifty.config` re-exports them all."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thrifty.levers.fewer_calls.semantic.models import DEFAULT_MODEL, ModelName

TierTimeout = Annotated[float, Field(gt=0, le=3600)]  # seconds

__all__ = [
    "CacheSettings",
    "CascadeSettings",
    "CoalesceSettings",
    "CompressSettings",
    "ContextSettings",
    "DebounceSettings",
    "HistorySettings",
    "IdempotencySettings",
    "LearnedRoutingSettings",
    "LeverSettings",
    "LeversSettings",
    "LocalSettings",
    "OutputSettings",
    "PromptCacheSettings",
    "SemanticCacheSettings",
    "ShadowSettings",
    "StrictSettings",
]


class StrictSettings(BaseModel):
    """A settings table: unknown keys are refused, and it is frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LeverSettings(StrictSettings):
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
    # Kept conversations work whatever `enabled` says (the history policy trims them only
    # where it is on); false: a request with x-thrifty-conversation is a 400.
    conversations: bool = True
    # A turn that arrives while another turn of its conversation is in flight: "wait" for
    # it (at most conversation_wait_s, then a 409), or "refuse" at once with a 409.
    conversation_busy: Literal["wait", "refuse"] = "wait"
    conversation_wait_s: float = Field(default=60.0, gt=0, le=3600)

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
    ``calibration_path``, ``max_entries``, ``threads`` and ``model`` are read from
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
    model: ModelName = DEFAULT_MODEL  # docs/semantic-cache-speed.md


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
    # a slower tier escalates: one deadline for every tier but the last, or one per model
    tier_timeout_s: TierTimeout | dict[str, TierTimeout] | None = None
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


class LeversSettings(StrictSettings):
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
