"""What a call will cost, predicted from the prompt alone, for routers that weigh quality
against dollars.

A call's cost grows with the prompt (input tokens), and the prompt is known before any call:
:class:`CostByLength` fits, on the train rows, each model's cost as ``a + b * characters`` of
the prompt (least squares; a prediction is never below the cheapest train cost of that
model).  The costs of the rows being decided are never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thrifty.eval.route.table import FloatArray

MIN_SHARE = 1e-3  # a saving is at least this share of the mean saving (no division by ~0)
DIGITS = 9  # signals are rounded: no decision turns on less, and labels stay distinct


def prompt_lengths(prompts: Sequence[str]) -> FloatArray:
    return np.fromiter((len(p) for p in prompts), dtype=float, count=len(prompts))


@dataclass(frozen=True)
class CostByLength:
    """Per model: ``cost ~ intercept + slope * prompt characters`` (fitted on train)."""

    intercepts: FloatArray  # [models]
    slopes: FloatArray  # [models]
    floors: FloatArray  # [models] the cheapest train cost of each model

    @classmethod
    def fit(cls, prompts: Sequence[str], costs: FloatArray) -> CostByLength:
        lengths = prompt_lengths(prompts)
        design = np.stack([np.ones_like(lengths), lengths], axis=1)
        solution, *_ = np.linalg.lstsq(design, costs, rcond=None)
        return cls(solution[0], solution[1], np.asarray(costs.min(axis=0), dtype=float))

    def predict(self, prompts: Sequence[str]) -> FloatArray:
        """[len(prompts), models] predicted cost of one call."""
        lengths = prompt_lengths(prompts)[:, None]
        return np.maximum(self.intercepts + self.slopes * lengths, self.floors)


@dataclass(frozen=True)
class SavingScale:
    """The dollars sending a prompt to each candidate instead of the strongest model saves,
    relative to the mean saving on train (1.0 = a typical prompt)."""

    costs: CostByLength
    candidates: tuple[int, ...]
    strongest: int
    mean_saving: FloatArray  # [candidates] on train

    @classmethod
    def fit(
        cls, prompts: Sequence[str], costs: FloatArray, candidates: Sequence[int], strongest: int
    ) -> SavingScale:
        model = CostByLength.fit(prompts, costs)
        predicted = model.predict(prompts)
        saving = predicted[:, [strongest]] - predicted[:, list(candidates)]
        mean = np.maximum(saving.mean(axis=0), 1e-12)
        return cls(model, tuple(candidates), strongest, np.asarray(mean, dtype=float))

    def relative(self, prompts: Sequence[str]) -> FloatArray:
        """[len(prompts), candidates] the predicted saving over the mean one (>= MIN_SHARE)."""
        predicted = self.costs.predict(prompts)
        saving = predicted[:, [self.strongest]] - predicted[:, list(self.candidates)]
        return np.asarray(np.maximum(saving / self.mean_saving, MIN_SHARE), dtype=float)

    def per_dollar(self, gain: FloatArray, prompts: Sequence[str]) -> FloatArray:
        """``gain`` (a candidate's P(right) minus the strongest's, [n, candidates]) per dollar
        saved: a loss is divided by the relative saving (a prompt dear to send to the
        strongest model gives up less per dollar), a gain multiplied by it."""
        saving = self.relative(prompts)
        value = np.where(gain < 0, gain / saving, gain * saving)
        return np.asarray(np.round(value, DIGITS), dtype=float)
