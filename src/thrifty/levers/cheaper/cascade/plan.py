"""A task's cascade from its settings, checked when the gateway or library starts.

A misconfigured cascade is a start-up error (:class:`~thrifty.errors.ConfigError`) naming
the task: fewer than two tiers, a tier no provider serves, a model listed twice (a cycle),
a task that also routes to a fixed ``model``, a ``tier_timeout_s`` for a model that is not a
cheap tier, a signal that cannot be built (a bad schema,
regex, function or scorer file), a scorer fitted for another model than tier 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thrifty.config import CascadeSettings, Settings
from thrifty.errors import ConfigError
from thrifty.levers.cheaper.cascade.scorer import ScorerCheck
from thrifty.levers.cheaper.cascade.signals import (
    FunctionCheck,
    JsonSchemaCheck,
    LogprobCheck,
    RegexCheck,
    SelfReported,
    Signal,
    SignalError,
    read_json_object,
)

MAX_SCHEMA_BYTES = 2**20


@dataclass(frozen=True)
class CascadePlan:
    """What the stage does for one task."""

    task: str | None
    tiers: tuple[str, ...]  # cheapest first; the last always answers
    signals: tuple[Signal, ...] = ()
    agreement: bool = False
    agreement_model: str | None = None  # None: the tier's own model again
    want_logprobs: bool = False
    timeout_s: float | None = None  # every tier but the last, unless named in timeouts_s
    timeouts_s: Mapping[str, float] = field(default_factory=dict)  # model -> its own
    stream_first_tier: bool = False
    scorer_tier: str | None = None  # the tier the learned scorer judges (tier 0)
    pair_scorer: ScorerCheck | None = None  # a scorer of tier 0 with its agreement model

    def timeout_for(self, model: str) -> float | None:
        """How long a call to ``model`` as a cheap tier may take (``None``: the
        provider's own timeouts only)."""
        return self.timeouts_s.get(model, self.timeout_s)

    def signals_for(self, model: str) -> tuple[Signal, ...]:
        """The signals that judge ``model``'s answers (the scorer judges tier 0 only)."""
        if self.scorer_tier is None or model == self.scorer_tier:
            return self.signals
        return tuple(s for s in self.signals if s.name != "scorer")


def _schema(settings: CascadeSettings) -> dict[str, Any] | None:
    if settings.json_schema is not None and settings.json_schema_path is not None:
        raise SignalError("give json_schema or json_schema_path, not both")
    if settings.json_schema_path is None:
        return settings.json_schema
    return read_json_object(Path(settings.json_schema_path), MAX_SCHEMA_BYTES, "json_schema_path")


def _signals(settings: CascadeSettings) -> list[Signal]:
    signals: list[Signal] = []
    if (schema := _schema(settings)) is not None:
        signals.append(JsonSchemaCheck(schema))
    if settings.regex is not None:
        signals.append(RegexCheck(settings.regex))
    if settings.confidence_field is not None:
        signals.append(SelfReported(settings.confidence_field, settings.confidence_accept))
    if settings.min_mean_logprob is not None:
        signals.append(LogprobCheck(settings.min_mean_logprob))
    if settings.function is not None:
        signals.append(FunctionCheck.load(settings.function))
    if settings.scorer_path is not None:
        from thrifty.levers.cheaper.cascade.scorer import load_scorer

        scorer = load_scorer(Path(settings.scorer_path))
        tier = [settings.tiers[0]]
        if len(scorer.cheap_models) == 2:  # tier 0 and the agreement model, called together
            tier.append(settings.agreement_model or settings.tiers[0])
        paired = len(tier) == 1 or settings.agreement
        if sorted(scorer.cheap_models) != sorted(tier) or not paired:
            fitted = " and ".join(scorer.cheap_models)
            ours = " with agreement from ".join(tier) if settings.agreement else tier[0]
            raise SignalError(
                f"the scorer in {settings.scorer_path} was fitted on {fitted}'s answers, but "
                f"tier 0 is {ours}"
            )
        signals.append(ScorerCheck(scorer, scorer.threshold_for(settings.target_quality)))
    elif settings.target_quality is not None:
        raise SignalError("target_quality picks a fitted scorer's threshold: set scorer_path")
    return signals


def _timeouts(settings: CascadeSettings) -> tuple[float | None, dict[str, float]]:
    """``tier_timeout_s``: one deadline for every cheap tier, or one per model named (a
    cheap tier or the agreement model; the last tier always answers, so it has none)."""
    given = settings.tier_timeout_s
    if not isinstance(given, dict):
        return given, {}
    cheap = {*settings.tiers[:-1], *([settings.agreement_model] if settings.agreement else [])}
    strange = sorted(set(given) - cheap)
    if strange:
        raise SignalError(
            f"tier_timeout_s names {', '.join(strange)}, not a cheap tier (the last tier "
            "always answers: its provider's timeout_s bounds it)"
        )
    return None, dict(given)


def plan_for(
    task: str | None, settings: CascadeSettings, known: Callable[[str], bool]
) -> CascadePlan:
    """The checked plan of one task (raises :class:`ConfigError` naming it)."""
    where = f"[tasks.{task}.cascade]" if task is not None else "[levers.cascade]"
    tiers = settings.tiers
    try:
        if len(tiers) < 2:
            raise SignalError("tiers must list at least two models, cheapest first")
        repeated = sorted({m for m in tiers if tiers.count(m) > 1})
        if repeated:
            raise SignalError(f"{', '.join(repeated)} listed twice in tiers (a cycle)")
        others = [*tiers, *([settings.agreement_model] if settings.agreement_model else [])]
        unknown = [m for m in others if not known(m)]
        if unknown:
            raise SignalError(f"no provider serves {', '.join(unknown)}")
        if settings.agreement_model is not None and not settings.agreement:
            raise SignalError("agreement_model is set but agreement is off")
        timeout_s, timeouts_s = _timeouts(settings)
        signals = tuple(_signals(settings))
    except SignalError as error:
        raise ConfigError(f"{where} cascade of task {task!r}: {error}") from None
    return CascadePlan(
        task=task,
        tiers=tiers,
        signals=signals,
        agreement=settings.agreement,
        agreement_model=settings.agreement_model,
        want_logprobs=settings.min_mean_logprob is not None,
        timeout_s=timeout_s,
        timeouts_s=timeouts_s,
        stream_first_tier=settings.stream_first_tier,
        scorer_tier=tiers[0] if settings.scorer_path is not None else None,
        pair_scorer=next(
            (s for s in signals if isinstance(s, ScorerCheck) and len(s.scorer.cheap_models) == 2),
            None,
        ),
    )


@dataclass(frozen=True)
class Plans:
    """Every task's plan.  A task without its own (``[tasks.T.cascade]``) gets the
    ``[levers.cascade]`` one, unless it is routed to a fixed model."""

    by_task: Mapping[str, CascadePlan]
    default: CascadePlan | None
    without: frozenset[str]  # routed to a fixed model, or their own cascade is off

    def for_task(self, task: str | None) -> CascadePlan | None:
        if task is not None and (found := self.by_task.get(task)) is not None:
            return found
        return None if task in self.without else self.default

    def __bool__(self) -> bool:
        return bool(self.by_task) or self.default is not None


def plans_for(settings: Settings, known: Callable[[str], bool]) -> Plans:
    """Every task's checked plan (raises :class:`ConfigError` naming the task)."""
    routes = settings.task_routes()
    default = settings.levers.cascade
    by_task: dict[str, CascadePlan] = {}
    without = set(routes)
    for task, entry in settings.tasks.items():
        if "cascade" not in entry.overrides():
            continue
        cascade = settings.levers_for(task).cascade
        if not cascade.enabled or not cascade.tiers:
            without.add(task)
            continue
        if task in routes:
            raise ConfigError(
                f"task {task!r} has both a model ({routes[task]}) and a cascade: the cascade's "
                "tiers pick its models, remove one"
            )
        by_task[task] = plan_for(task, cascade, known)
    on = default.enabled and bool(default.tiers)
    return Plans(by_task, plan_for(None, default, known) if on else None, frozenset(without))
