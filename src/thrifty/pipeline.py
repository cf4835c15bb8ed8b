"""The one place where the stage order lives.

Library, gateway and CLI all call :func:`build_pipeline`; none holds pipeline logic.
Each lever module exports one builder, ``async def build(parts) -> Stage | None`` (None:
the lever is off); :data:`PIPELINE` lists the builders outermost first.  Adding a lever is
one new module, one line here and its settings class in ``config.LeversSettings``.

    Aliases -> Ledger -> Idempotency -> Debounce -> Cache -> Coalesce -> SemanticCache
        -> Output -> Route -> Cascade -> Dispatch -> Provider
    (outer)                                            (inner)

Later levers slot in between Ledger and Dispatch in the order docs/architecture.md gives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from thrifty.config import Settings
from thrifty.dispatch import ProviderRegistry
from thrifty.ledger import LedgerStore
from thrifty.ledger.accounting import Accountant
from thrifty.pricing import PriceBook
from thrifty.tokens import TokenCounter
from thrifty.types import Handler, Stage


@dataclass(frozen=True, slots=True)
class Parts:
    """The long-lived resources the stages share (built and closed by the runtime).

    ``resources`` is the runtime's exit stack: a lever that opens a store, an index or an
    embedder enters it there (``await parts.resources.enter_async_context(store)``) and
    the runtime closes it, in reverse order, when it shuts down.  ``counter`` is the
    token counter the stages share (its memo is bounded).
    """

    settings: Settings
    prices: PriceBook
    ledger: LedgerStore
    providers: ProviderRegistry
    resources: AsyncExitStack
    # One token counter for the stages that count (context, history, prompt-cache
    # planning): a text one stage counted is remembered for the next.
    counter: TokenCounter = field(default_factory=TokenCounter)


Builder = Callable[[Parts], Awaitable[Stage | None]]


def _pipeline() -> tuple[Builder, ...]:
    # Imported here so that importing thrifty.pipeline stays cheap and cycle-free.
    from thrifty.context import stage as context
    from thrifty.ledger import stage as ledger
    from thrifty.levers.cheaper import routing
    from thrifty.levers.cheaper.cascade import stage as cascade
    from thrifty.levers.cheaper.learned import stage as learned_routing
    from thrifty.levers.cheaper.local import stage as local_tier
    from thrifty.levers.cheaper.shadow import stage as shadow
    from thrifty.levers.fewer_calls import cache, coalesce, debounce, idempotency
    from thrifty.levers.fewer_calls.semantic import stage as semantic_cache
    from thrifty.levers.fewer_tokens import output
    from thrifty.levers.fewer_tokens.compress import stage as compress
    from thrifty.levers.fewer_tokens.history import conversation
    from thrifty.levers.fewer_tokens.history import stage as history
    from thrifty.levers.fewer_tokens.prompt_cache import stage as prompt_cache

    return (
        routing.build_aliases,  # names first: the ledger books the resolved model
        ledger.build,  # outermost lever seam: books every outcome
        idempotency.build,  # a repeated submit gets the earlier result
        debounce.build,  # a newer request supersedes an older in-flight one
        conversation.build,  # x-thrifty-conversation: the stored turns before the new ones
        cache.build,  # exact memo: a hit skips everything below
        coalesce.build,  # identical in-flight misses share one call (and one lookup below)
        semantic_cache.build,  # similar enough, and guarded
        output.build,
        context.build,  # thrifty_context documents: the best that fit, in the last message
        history.build,  # older turns dropped or summarised, cut points in steps
        compress.build,  # long prompts only: safe, deterministic transforms
        shadow.build,  # a sample of cheaper answers checked against a strong model, later
        routing.build,
        learned_routing.build,  # a router file picks the model from the prompt
        local_tier.build,  # a task's local model ($0), the hosted one on a refusal
        cascade.build,  # a task's tiers in turn, innermost: it picks the models called
        prompt_cache.build,  # cache breakpoints for the prompt as sent, per model called
    )


def compose(stages: Sequence[Stage], innermost: Handler) -> Handler:
    """``compose([a, b], h)`` is ``a(b(h))``: the first stage is the outermost."""
    handler = innermost
    for stage in reversed(stages):
        handler = stage(handler)
    return handler


def accountant_for(parts: Parts) -> Accountant:
    facts = {u.name: (u.price_provider, u.local) for u in parts.providers.upstreams}

    def upstream_of(model: str) -> tuple[str | None, bool] | None:
        upstream = parts.providers.find(model)
        return None if upstream is None else facts[upstream.name]

    return Accountant(parts.prices, upstream_of, facts.get)


def pipeline_order() -> tuple[str, ...]:
    """The builders' qualified names, outermost first (pinned by a test)."""
    return tuple(f"{b.__module__}.{b.__name__}" for b in _pipeline())


async def build_pipeline(parts: Parts) -> Handler:
    stages: list[Stage] = []
    for builder in _pipeline():
        stage = await builder(parts)
        if stage is not None:
            stages.append(stage)
    return compose(stages, parts.providers)
