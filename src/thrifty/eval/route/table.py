"""Records as arrays for evaluation, and the label-free view a strategy decides from.

:class:`OutcomeTable` holds the labels (``scores``) and the per-call costs; only the fitting
step and the evaluator read them.  At decision time a strategy receives
:class:`QueryView` objects, built from the prompt and the response texts alone: a view has
no path to a score, and it records which models' responses were read, so the evaluator can
check that a strategy paid for every answer it looked at.

Costs are US dollars as ``float64`` here: the evaluator compares sums and ratios of
recorded costs over thousands of queries; nothing is booked from these figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from thrifty.eval.route.records import RouteRecord

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class UnpaidReadError(RuntimeError):
    """A strategy read the response of a model it did not call."""


@dataclass(slots=True)
class QueryView:
    """What a strategy may see of one query when deciding: the prompt, the app's task name
    (``x-thrifty-task``; ``None`` when the records have none), and the response of a model it
    calls (each read is recorded).  It holds no score."""

    prompt: str
    _responses: tuple[tuple[str, str], ...]
    task: str | None = None
    _read: set[str] = field(default_factory=set)
    _forks: list[tuple[str, QueryView]] = field(default_factory=list)

    def response(self, model: str) -> str:
        """The answer ``model`` gave (``""`` if the records have no text): reading it means
        the strategy called that model on this query."""
        self._read.add(model)
        for name, text in self._responses:
            if name == model:
                return text
        raise KeyError(model)

    @property
    def read_models(self) -> frozenset[str]:
        return frozenset(self._read)

    def fork(self, setting: str) -> QueryView:
        """A view of the same query whose reads count for one setting of a plan only (a
        strategy that calls models one at a time, where each setting stops at a different
        model); the evaluator checks a setting's reads against that setting's calls."""
        child = QueryView(self.prompt, self._responses, self.task)
        self._forks.append((setting, child))
        return child

    @property
    def forks(self) -> tuple[tuple[str, QueryView], ...]:
        """Every ``(setting label, view)`` handed out by :meth:`fork`."""
        return tuple(self._forks)


@dataclass(frozen=True)
class OutcomeTable:
    """``n`` queries by ``m`` models: prompts, task names, response texts, scores and
    costs."""

    models: tuple[str, ...]
    ids: tuple[str, ...]
    prompts: tuple[str, ...]
    responses: tuple[tuple[str, ...], ...]  # [query][model]
    scores: FloatArray  # [n, m] in [0, 1]
    costs: FloatArray  # [n, m] US dollars
    tasks: tuple[str | None, ...] = ()  # [query]; empty: no task on any query

    @classmethod
    def from_records(
        cls, records: Sequence[RouteRecord], models: Sequence[str] | None = None
    ) -> OutcomeTable:
        names = tuple(models or records[0].outcomes)
        scores = np.array([[r.outcomes[m].score for m in names] for r in records], dtype=float)
        costs = np.array([[float(r.outcomes[m].cost_usd) for m in names] for r in records])
        responses = tuple(tuple(r.outcomes[m].response or "" for m in names) for r in records)
        return cls(
            names,
            tuple(r.id for r in records),
            tuple(r.prompt for r in records),
            responses,
            scores.reshape(len(records), len(names)),
            costs.reshape(len(records), len(names)),
            tuple(r.task for r in records),
        )

    def __len__(self) -> int:
        return len(self.prompts)

    def index(self, model: str) -> int:
        return self.models.index(model)

    def subset(self, rows: Sequence[int] | IntArray) -> OutcomeTable:
        picked = [int(i) for i in rows]
        return OutcomeTable(
            self.models,
            tuple(self.ids[i] for i in picked),
            tuple(self.prompts[i] for i in picked),
            tuple(self.responses[i] for i in picked),
            self.scores[picked],
            self.costs[picked],
            tuple(self.task_of(i) for i in picked),
        )

    def task_of(self, row: int) -> str | None:
        return self.tasks[row] if self.tasks else None

    def task_list(self) -> list[str | None]:
        """Every query's task (``None`` where it has none)."""
        return [self.task_of(i) for i in range(len(self))]

    def views(self) -> list[QueryView]:
        """Fresh label-free views, one per query."""
        return [
            QueryView(prompt, tuple(zip(self.models, texts, strict=True)), task)
            for prompt, texts, task in zip(
                self.prompts, self.responses, self.task_list(), strict=True
            )
        ]

    def has_responses(self, model: int) -> bool:
        """Whether the records have answer text for model number ``model``."""
        return any(texts[model] for texts in self.responses)

    def mean_quality(self) -> FloatArray:
        return np.asarray(self.scores.mean(axis=0), dtype=float)

    def total_cost(self) -> FloatArray:
        return np.asarray(self.costs.sum(axis=0), dtype=float)

    def strongest(self) -> int:
        """The model with the best mean score (ties: the dearer one)."""
        quality, cost = self.mean_quality(), self.total_cost()
        return int(max(range(len(self.models)), key=lambda j: (quality[j], cost[j])))

    def cheapest(self) -> int:
        return int(np.argmin(self.total_cost()))
