"""The library entry point: submit deferred requests, get a handle to poll or await.

    async with Thrifty(settings) as thrifty, Batches.of(thrifty) as batches:
        submitted = await batches.submit(lines)          # JSONL lines (bytes)
        print(submitted.report())                        # the lines refused, and why
        results = await submitted.handle.wait()          # polls until every item is final

A :class:`BatchHandle` is only an id: ``status()``, ``results()``, ``cancel()`` and
``wait()`` read the durable queue, so another process (``thrifty batch status``) sees the
same figures.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from thrifty.batch.booking import Booker
from thrifty.batch.lines import BatchItem, ParsedInput, parse_lines
from thrifty.batch.memo import BatchMemo
from thrifty.batch.queue import BatchQueue, ItemRow, NewItem, Outcome
from thrifty.batch.runner import BatchRunner, Observer
from thrifty.batch.upstream import AnthropicBatchAPI, BatchAPI, OpenAIBatchAPI
from thrifty.dialects.view import RequestView
from thrifty.dispatch import SIMULATOR_KEY, Upstream
from thrifty.errors import NotFound
from thrifty.pipeline import Parts, accountant_for
from thrifty.pricing import PriceBook
from thrifty.providers import HttpPool
from thrifty.requests import check_label
from thrifty.types import Dialect

if TYPE_CHECKING:
    from thrifty.config import Settings
    from thrifty.runtime import Thrifty
    from thrifty.store import Cache

WEBHOOK_TIMEOUT_S = 10.0


def queue_path(settings: Settings) -> Path:
    """``[batch] path``, else next to the ledger (``thrifty.db`` -> ``thrifty-batch.db``)."""
    if settings.batch.path is not None:
        return Path(settings.batch.path)
    return settings.ledger.beside("batch")


@dataclass(frozen=True, slots=True)
class Status:
    submission_id: str
    state: str  # open | done | cancelled
    total: int
    counts: dict[str, int]

    @property
    def finished(self) -> int:
        return sum(self.counts.get(s, 0) for s in ("succeeded", "failed", "cancelled", "expired"))

    @property
    def complete(self) -> bool:
        """Every item final and booked."""
        return self.state != "open" and self.counts.get("booked", 0) >= self.total

    def to_json(self) -> dict[str, Any]:
        return {"id": self.submission_id, "state": self.state, "total": self.total, **self.counts}


def result_line(item: ItemRow) -> dict[str, Any]:
    """An item as a results line: its custom id, outcome, and answer or error."""
    line: dict[str, Any] = {"custom_id": item.custom_id, "status": item.state}
    if item.state == "succeeded" and item.result is not None:
        line["response"] = orjson.Fragment(item.result)
        line["source"] = item.source
    else:
        line["error"] = item.error
        if item.result is not None:
            line["response"] = orjson.Fragment(item.result)
    return line


class BatchHandle:
    """One submission in the queue."""

    def __init__(self, batches: Batches, submission_id: str) -> None:
        self._batches = batches
        self.id = submission_id

    def status(self) -> Status:
        return self._batches.status(self.id)

    def results(self) -> list[ItemRow]:
        """Every item, in input order (final or not)."""
        return self._batches.queue.results(self.id)

    async def cancel(self) -> Status:
        return await self._batches.cancel(self.id)

    async def poll(self) -> Status:
        """One step of the poller (every job, not only this submission's), then the status."""
        await self._batches.runner.step()
        return self.status()

    async def wait(self, poll_interval_s: float | None = None) -> list[ItemRow]:
        """Poll until every item is final and booked; the items in input order."""
        interval = poll_interval_s or self._batches.settings.batch.poll_interval_s
        while True:
            if (await self.poll()).complete:
                return self.results()
            await asyncio.sleep(interval)


@dataclass(frozen=True, slots=True)
class Submitted:
    handle: BatchHandle | None  # None: no line was valid
    parsed: ParsedInput

    def report(self) -> str:
        return self.parsed.report()


class Batches:
    """The queue, the provider batch APIs and the poller over one runtime's resources."""

    def __init__(
        self,
        parts: Parts,
        pool: HttpPool,
        *,
        environ: Mapping[str, str] | None = None,
        simulator_url: str | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.settings = parts.settings
        self._parts = parts
        self._pool = pool
        self._environ = dict(os.environ if environ is None else environ)
        self._simulator_url = simulator_url
        self._observer = observer
        self.queue = BatchQueue(queue_path(parts.settings))
        self.apis: dict[str, BatchAPI] = {}
        self._memo: BatchMemo | None = None
        self._cache: Cache | None = None
        self._runner: BatchRunner | None = None

    @classmethod
    def of(cls, thrifty: Thrifty, **kw: Any) -> Batches:
        """Over a started :class:`~thrifty.runtime.Thrifty`'s pool, providers and ledger."""
        return cls(runtime_parts(thrifty), thrifty.pool, simulator_url=thrifty.simulator_url, **kw)

    @property
    def simulated(self) -> bool:
        """The runtime's in-process simulator stands in for the providers."""
        return self._simulator_url is not None

    @property
    def runner(self) -> BatchRunner:
        if self._runner is None:
            raise RuntimeError("Batches is not open (async with Batches(...))")
        return self._runner

    async def __aenter__(self) -> Batches:
        self.queue.open()
        for upstream in self._parts.providers.upstreams:
            self.apis[upstream.name] = api_for(
                upstream, self._pool, environ=self._environ, simulator_url=self._simulator_url
            )
        if self.settings.levers.cache.enabled:
            from thrifty.levers.fewer_calls.cache_store import open_store

            self._cache, counters = await open_store(self.settings)
            if counters is not None:
                await counters.close()
            self._memo = BatchMemo.of(self.settings, self._cache)
        booker = Booker(self._parts.ledger, accountant_for(self._parts))
        self._runner = BatchRunner(
            self.queue,
            self.apis,
            booker,
            max_attempts=self.settings.batch.max_attempts,
            observer=self._observer or (lambda event, subject: None),
            notify=self._notify if self.settings.batch.webhook_url else None,
            on_success=self._memo.keep if self._memo is not None else None,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._cache is not None:
            await self._cache.close()
        self.queue.close()

    # -- submitting ----------------------------------------------------------------------

    def check(self, lines: Iterable[bytes]) -> ParsedInput:
        """Every line checked, nothing stored or sent."""
        registry = self._parts.providers

        def provider_of(model: str) -> tuple[str, Dialect] | None:
            upstream = registry.find(model)
            return None if upstream is None else (upstream.name, upstream.settings.dialect)

        return parse_lines(lines, provider_of)

    async def submit(
        self, lines: Iterable[bytes], *, task: str | None = None, tenant: str | None = None
    ) -> Submitted:
        """Queue the valid lines (nothing is sent until the poller runs); the bad ones are
        named in ``report()``.  Items the exact cache answers are final at once."""
        for what, label in (("task", task), ("tenant", tenant)):
            if label is not None:
                check_label(f"the {what}", label)
        parsed = self.check(lines)
        if not parsed.items:
            return Submitted(None, parsed)
        submission_id = "tb_" + uuid.uuid4().hex
        new = [_new_item(seq, item) for seq, item in enumerate(parsed.items)]
        self.queue.add_submission(submission_id, new, tenant=tenant, task=task)
        if self._memo is not None:
            await self._answer_from_cache(submission_id)
        self.runner.observe("queued", submission_id)
        return Submitted(BatchHandle(self, submission_id), parsed)

    async def _answer_from_cache(self, submission_id: str) -> None:
        assert self._memo is not None
        hits: list[Outcome] = []
        for item in self.queue.items("i.submission_id = ? AND i.leader IS NULL", (submission_id,)):
            stored = await self._memo.lookup(item)
            if stored is not None:
                body = orjson.dumps(stored.body)
                hits.append(Outcome(item.id, "succeeded", 200, body, source="cache"))
        if hits:
            self.queue.settle(hits)

    def handle(self, submission_id: str) -> BatchHandle:
        if self.queue.submission(submission_id) is None:
            raise NotFound(f"no batch submission {submission_id!r} in {self.queue.path}")
        return BatchHandle(self, submission_id)

    def status(self, submission_id: str) -> Status:
        found = self.queue.submission(submission_id)
        if found is None:
            raise NotFound(f"no batch submission {submission_id!r} in {self.queue.path}")
        counts = self.queue.counts(submission_id)
        total = sum(v for k, v in counts.items() if k != "booked")
        return Status(submission_id, found[0], total, counts)

    async def cancel(self, submission_id: str) -> Status:
        """Cancel what is not done: queued items at once, jobs in progress at the provider
        (their finished answers are still collected and booked)."""
        self.status(submission_id)  # NotFound first
        self.queue.cancel_queued(submission_id)
        jobs = {job.id for job in self.queue.jobs_of(submission_id)}
        await self.runner.cancel_jobs(jobs)
        return self.status(submission_id)

    async def _notify(self, submission_id: str, counts: dict[str, int]) -> None:
        url = self.settings.batch.webhook_url
        assert url is not None
        payload = orjson.dumps({"type": "batch.completed", "id": submission_id, "counts": counts})
        session = self._pool.session()
        async with session.post(
            url,
            data=payload,
            headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S),
        ) as response:
            response.raise_for_status()


def runtime_parts(thrifty: Thrifty) -> Parts:
    """The parts of a started runtime that batch work uses (no levers of its own)."""
    return Parts(
        settings=thrifty.settings,
        prices=PriceBook(thrifty.settings.prices),
        ledger=thrifty.ledger,
        providers=thrifty.providers,
        resources=AsyncExitStack(),
    )


def api_for(
    upstream: Upstream,
    pool: HttpPool,
    *,
    environ: Mapping[str, str],
    simulator_url: str | None,
) -> OpenAIBatchAPI | AnthropicBatchAPI:
    """The batch endpoints of ``upstream``, with its key (the simulator's, when the
    runtime stands the simulator in for the providers)."""
    settings = upstream.settings
    if simulator_url is not None:
        key: str | None = SIMULATOR_KEY
    else:
        key = environ.get(settings.api_key_env) if settings.api_key_env else None
    kind = AnthropicBatchAPI if settings.dialect == "anthropic" else OpenAIBatchAPI
    return kind(pool, settings.base_url, key, upstream.name)


def _new_item(seq: int, item: BatchItem) -> NewItem:
    request = item.request
    key = RequestView.of(request).cache_key()
    body = orjson.dumps(request.body)
    return NewItem(
        seq, item.custom_id, item.provider, item.dialect, item.model, body, item.size, key
    )
