"""What one provider job may hold, and how a submission's items are grouped into jobs.

OpenAI: one input file per batch, at most 50,000 requests and 200 MB, one model per file.
Anthropic: at most 100,000 requests and 256 MB per message batch.  thrifty groups items
per provider and model, in input order, and starts a new job before either bound would be
passed (bytes counted as the lines or requests are written, with a margin for the
wrapping each line adds).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

from thrifty.types import Dialect

# A submission larger than this is refused line by line past the bound: it would be many
# provider jobs and is better split by the caller.
MAX_SUBMISSION_LINES = 1_000_000
MAX_SUBMISSION_BYTES = 2 * 2**30
LINE_OVERHEAD = 256  # bytes a line adds around its body (custom_id, method, url, braces)


@dataclass(frozen=True, slots=True)
class JobLimits:
    name: str
    max_requests: int
    max_bytes: int


LIMITS: dict[Dialect, JobLimits] = {
    "openai": JobLimits("OpenAI Batch API", 50_000, 200 * 2**20),
    "anthropic": JobLimits("Anthropic Message Batches", 100_000, 256 * 2**20),
}


class Sized(Protocol):
    @property
    def size(self) -> int: ...


T = TypeVar("T", bound=Sized)


def chunks(items: Iterable[T], limits: JobLimits) -> Iterator[list[T]]:
    """``items`` (one provider and model) cut into jobs within ``limits``."""
    job: list[T] = []
    used = 0
    for item in items:
        size = item.size + LINE_OVERHEAD
        if job and (len(job) >= limits.max_requests or used + size > limits.max_bytes):
            yield job
            job, used = [], 0
        job.append(item)
        used += size
    if job:
        yield job
