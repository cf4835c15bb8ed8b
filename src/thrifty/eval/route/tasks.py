"""The task name as a router feature: one column per task seen on train (one-hot).

A record's ``task`` is what a thrifty app sends as ``x-thrifty-task``: it is known before any
model is called, so a prompt router may read it like the prompt.  With a logistic model a
one-hot column is a per-task prior fitted on train; a task not seen on train has no column
(the prompt alone decides).  No label is read: the columns are the task names alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

TASK_VALUE = 1.0  # the one-hot value: a TF-IDF row has unit norm, so is this column


@dataclass(frozen=True)
class TaskColumns:
    """Task name -> column (0-based, after the prompt's features)."""

    index: Mapping[str, int]

    @classmethod
    def fit(cls, tasks: Sequence[str | None]) -> TaskColumns | None:
        """The columns of the tasks in ``tasks``; ``None`` when fewer than two distinct tasks
        are named (a constant column tells a router nothing)."""
        names = sorted({task for task in tasks if task is not None})
        if len(names) < 2:
            return None
        return cls({name: column for column, name in enumerate(names)})

    def __len__(self) -> int:
        return len(self.index)

    def column(self, task: str | None) -> int | None:
        return None if task is None else self.index.get(task)

    def matrix(self, tasks: Sequence[str | None]) -> sparse.csr_matrix:
        """[len(tasks), len(self)]: one non-zero per row whose task has a column."""
        rows, columns = [], []
        for row, task in enumerate(tasks):
            if (column := self.column(task)) is not None:
                rows.append(row)
                columns.append(column)
        values = np.full(len(rows), TASK_VALUE)
        return sparse.csr_matrix((values, (rows, columns)), shape=(len(tasks), len(self)))


def with_tasks(
    features: object, tasks: Sequence[str | None], columns: TaskColumns | None
) -> object:
    """``features`` (sparse, one row per query) with the task columns appended."""
    if columns is None:
        return features
    return sparse.hstack([features, columns.matrix(tasks)]).tocsr()
