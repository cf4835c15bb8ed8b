"""Strategies: fitted on the train rows (labels allowed), then asked for a :class:`Plan` on
the test rows from label-free :class:`~thrifty.eval.route.table.QueryView` objects.

A plan is a list of settings (one per threshold): per query, the model whose answer is
accepted and every model called.  ``Plan.picked`` names, per quality target, the setting
whose threshold was chosen on the train rows, so the report can say what a deployment that
fixed its threshold in advance would have got.

The baselines are here: one static model (each model a setting; the one picked per target is
the cheapest that met it on train), always-strongest, always-cheapest, and random routing
between the cheapest and the strongest.  Learned routers are in ``routers.py``, cascades in
``cascades.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from thrifty.eval.route.table import BoolArray, FloatArray, IntArray, OutcomeTable, QueryView

FOLDS = 5
GRID_POINTS = 60


@dataclass(frozen=True)
class Setting:
    label: str
    chosen: IntArray  # [n] index of the model whose answer is accepted
    called: BoolArray  # [n, m] every model called


@dataclass
class Plan:
    settings: list[Setting]
    picked: dict[str, str] = field(default_factory=dict)  # target -> setting label


def one_hot(chosen: IntArray, models: int) -> BoolArray:
    called = np.zeros((len(chosen), models), dtype=bool)
    called[np.arange(len(chosen)), chosen] = True
    return called


def constant(model: int, n: int, models: int, label: str) -> Setting:
    chosen = np.full(n, model, dtype=np.int64)
    return Setting(label, chosen, one_hot(chosen, models))


class Strategy(ABC):
    """Fit on train with labels; plan on test from views only."""

    name: str = ""
    kind: str = "baseline"

    def fit(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        self.models = train.models
        self.strongest = train.strongest()
        self.cheapest = train.cheapest()
        self.train_cost = train.total_cost()
        self._fit(train, targets)

    def _fit(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        return None

    @abstractmethod
    def plan(self, views: Sequence[QueryView]) -> Plan: ...


class AlwaysModel(Strategy):
    def __init__(self, which: str) -> None:
        self.which = which
        self.name = f"always-{which}"

    def plan(self, views: Sequence[QueryView]) -> Plan:
        model = self.strongest if self.which == "strongest" else self.cheapest
        setting = constant(model, len(views), len(self.models), self.models[model])
        return Plan([setting], {})


class BestStatic(Strategy):
    """Every single model is a setting; per target, the cheapest on train that met it."""

    name = "best-static"

    def _fit(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        quality = train.mean_quality()
        by_cost = sorted(range(len(self.models)), key=lambda j: self.train_cost[j])
        self.picks = {
            target: next((j for j in by_cost if quality[j] >= level), self.strongest)
            for target, level in targets.items()
        }

    def plan(self, views: Sequence[QueryView]) -> Plan:
        settings = [constant(j, len(views), len(self.models), m) for j, m in enumerate(self.models)]
        return Plan(settings, {t: self.models[j] for t, j in self.picks.items()})


class RandomRouter(Strategy):
    """Sends a random share p of queries to the strongest model, the rest to the cheapest."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def plan(self, views: Sequence[QueryView]) -> Plan:
        n, rng = len(views), np.random.default_rng(self.seed)
        order = rng.permutation(n)
        settings = []
        for share in np.linspace(0.0, 1.0, 21):
            chosen = np.full(n, self.cheapest, dtype=np.int64)
            chosen[order[: round(share * n)]] = self.strongest
            settings.append(Setting(f"p={share:.2f}", chosen, one_hot(chosen, len(self.models))))
        return Plan(settings, {})


def threshold_grid(signals: FloatArray, extra: Sequence[float] = ()) -> list[float]:
    """Thresholds spanning the signals' range (quantiles), plus ``extra``; label-free."""
    values = signals[np.isfinite(signals)]
    if values.size == 0:
        return sorted({*extra, 0.0})
    grid = np.quantile(values, np.linspace(0.0, 1.0, GRID_POINTS))
    return sorted({*(float(v) for v in grid), float(values.max()) + 1e-9, *extra})


class ThresholdStrategy(Strategy):
    """A strategy with a confidence signal and one threshold.  Thresholds for the targets are
    chosen on out-of-fold train signals (a model fitted on the other folds), so the choice
    is not flattered by in-sample fit; the final model is then fitted on all train rows."""

    @abstractmethod
    def _train(self, train: OutcomeTable) -> object:
        """Fit and return the state :meth:`_signals` needs."""

    @abstractmethod
    def _signals(self, state: object, views: Sequence[QueryView]) -> FloatArray: ...

    @abstractmethod
    def _decide(self, signals: FloatArray, threshold: float) -> tuple[IntArray, BoolArray]: ...

    def _grid_values(self, signals: FloatArray) -> FloatArray:
        """The values thresholds are compared with (default: all the signals)."""
        return signals

    def _fit(self, train: OutcomeTable, targets: Mapping[str, float]) -> None:
        self.thresholds = self._choose_thresholds(train, targets)
        self.state = self._train(train)

    def _choose_thresholds(
        self, train: OutcomeTable, targets: Mapping[str, float]
    ) -> dict[str, float]:
        n = len(train)
        folds = np.random.default_rng(1).permutation(n) % FOLDS
        signals: FloatArray | None = None
        for fold in range(FOLDS):
            inside, outside = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
            state = self._train(train.subset(inside))
            part = self._signals(state, train.subset(outside).views())
            if signals is None:
                signals = np.zeros((n, *part.shape[1:]))
            signals[outside] = part
        assert signals is not None
        rows = np.arange(n)
        outcomes = []
        for t in threshold_grid(self._grid_values(signals)):
            chosen, called = self._decide(signals, t)
            quality = float(train.scores[rows, chosen].mean())
            outcomes.append((t, quality, float((train.costs * called).sum())))
        picks = {}
        for target, level in targets.items():
            met = [(cost, t) for t, quality, cost in outcomes if quality >= level]
            best = min(met) if met else (0.0, max(outcomes, key=lambda o: (o[1], -o[2]))[0])
            picks[target] = best[1]
        return picks

    def plan(self, views: Sequence[QueryView]) -> Plan:
        signals = self._signals(self.state, views)
        settings, picked = [], {}
        for t in threshold_grid(self._grid_values(signals), tuple(self.thresholds.values())):
            chosen, called = self._decide(signals, t)
            settings.append(Setting(threshold_label(t), chosen, called))
        for target, t in self.thresholds.items():
            picked[target] = threshold_label(t)
        return Plan(settings, picked)


def threshold_label(threshold: float) -> str:
    """A setting's label: the threshold's shortest exact form, so two distinct thresholds
    (saturated predictions differ in the 12th digit) never share a label."""
    return f"t={threshold!r}"
