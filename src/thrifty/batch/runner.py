"""The poller: moves every job one step along, collects results, books them.

One :meth:`BatchRunner.step` does, in order: group queued items into new jobs (per
provider and model, within the provider's limits), upload and create the jobs not yet
created, check the jobs in progress, collect the jobs that ended, book the final items,
and close finished submissions (with the webhook, if one is set).  Each transition is
committed before the next call that depends on it, so a process killed anywhere resumes
with the next ``step`` and neither loses an item nor pays for one twice:

* killed before a job's create call was recorded (``creating``): the job is looked up at
  the provider first (OpenAI by ``metadata.thrifty_job``, Anthropic by creation time and
  request count) and adopted if found;
* killed while collecting: the job stays ``ended`` and is collected again; items already
  final are left as they are;
* killed while booking: the rows already written are refused a second time by the ledger.

Failed items (a 429/5xx answer, an expired job, a job the provider cancelled) are sent
again in a new job, up to ``max_attempts`` in all; an item that succeeded never is.  A
4xx answer is final.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

import orjson

from thrifty.batch.booking import Booker
from thrifty.batch.limits import LIMITS, chunks
from thrifty.batch.queue import BatchQueue, ItemRow, JobRow, Outcome
from thrifty.batch.upstream import BatchAPI, BatchUpstreamError, RemoteJob, ResultLine

log = logging.getLogger("thrifty.batch")
RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
BOOK_CHUNK = 500
MISSING = "missing"  # remote_status of a job the provider answers 404 for

Observer = Callable[[str, str], None]  # (event, job or submission id)
Notify = Callable[[str, dict[str, int]], Awaitable[None]]  # (submission, counts)
Succeeded = Callable[[ItemRow, bytes], Awaitable[None]]  # an answer to keep (exact cache)


def _quiet(event: str, subject: str) -> None:
    return None


class BatchRunner:
    def __init__(
        self,
        queue: BatchQueue,
        apis: Mapping[str, BatchAPI],
        booker: Booker,
        *,
        max_attempts: int = 3,
        observer: Observer = _quiet,
        notify: Notify | None = None,
        on_success: Succeeded | None = None,
    ) -> None:
        self.queue = queue
        self.apis = apis
        self.booker = booker
        self.max_attempts = max_attempts
        self.observe = observer
        self.notify = notify
        self.on_success = on_success

    async def step(self) -> bool:
        """One pass over everything; ``True`` while some work is not finished."""
        self.plan()
        for job in self.queue.jobs("queued", "uploaded", "creating"):
            await self._guarded(job, self._start)
        for job in self.queue.jobs("in_progress"):
            await self._guarded(job, self._check)
        for job in self.queue.jobs("ended"):
            await self._guarded(job, self._collect)
        await self.book()
        await self._finish()
        return bool(self.queue.open_submissions())

    async def _guarded(self, job: JobRow, action: Callable[[JobRow], Awaitable[None]]) -> None:
        """Run one job's step; a provider error is kept on the job and tried again at the
        next step (a 4xx on creation fails the job's items instead)."""
        try:
            await action(job)
        except BatchUpstreamError as exc:
            log.warning("batch job %s: %s", job.id, exc.message)
            self.queue.update_job(job.id, error=exc.message)
            refused = 400 <= exc.status < 500 and exc.status not in RETRYABLE
            if job.state in ("queued", "uploaded", "creating") and refused:
                self._fail_job(job, exc.message)
            elif job.state == "in_progress" and exc.status == 404:
                # The provider no longer knows the job (deleted, or another account): its
                # items are sent again, like the lines of a job that lost them.
                self.queue.update_job(job.id, state="ended", remote_status=MISSING)

    # -- planning ------------------------------------------------------------------------

    def plan(self) -> list[str]:
        """Group queued items into new jobs; their ids."""
        made: list[str] = []
        for provider, dialect, model in self.queue.ready_groups():
            if provider not in self.apis:
                continue
            limits = LIMITS["anthropic" if dialect == "anthropic" else "openai"]
            for group in chunks(self.queue.queued(provider, model), limits):
                job = JobRow(
                    "job_" + uuid.uuid4().hex[:20], provider, dialect, model, len(group),
                    "queued", None, None, None, None, None, None,
                )  # fmt: skip
                self.queue.add_job(job, [item.id for item in group])
                self.observe("planned", job.id)
                made.append(job.id)
        return made

    # -- creating ------------------------------------------------------------------------

    async def _start(self, job: JobRow) -> None:
        api = self.apis[job.provider]
        items = self.queue.job_items(job.id)
        if job.state == "queued":  # nothing sent yet: a cancelled submission's items stay home
            cancelled = self.queue.cancelled_submissions()
            dropped = [i for i in items if i.submission_id in cancelled]
            if dropped:
                outcomes = [Outcome(i.id, "cancelled", error="cancelled before it was sent")
                            for i in dropped]  # fmt: skip
                self.queue.settle(outcomes)
                items = [i for i in items if i.submission_id not in cancelled]
                self.queue.update_job(job.id, requests=len(items))
                job = replace(job, requests=len(items))
        lines = [(item.upstream_id, item.body) for item in items]
        if job.state == "creating":
            found = await api.find(
                job.id, job.creating_at or 0.0, job.requests, self.queue.claimed_remote_ids()
            )
            if found is not None:
                self._created(job, found)
                return
        if not lines:  # every item left (cancelled): nothing to send
            self.queue.update_job(job.id, state="collected")
            return
        input_ref = job.input_file_id
        if job.state == "queued":
            input_ref = await api.upload(job.id, lines)
            if input_ref is not None:
                self.queue.update_job(job.id, state="uploaded", input_file_id=input_ref)
                self.observe("uploaded", job.id)
        self.queue.update_job(job.id, state="creating", creating_at=time.time())
        self.observe("creating", job.id)
        remote = await api.create(job.id, input_ref, lines)
        self.observe("remote_created", job.id)
        self._created(job, remote)

    def _created(self, job: JobRow, remote: RemoteJob) -> None:
        self.queue.update_job(
            job.id, state="in_progress", remote_id=remote.remote_id, remote_status=remote.status
        )
        self.observe("in_progress", job.id)

    def _fail_job(self, job: JobRow, error: str) -> None:
        outcomes = [
            Outcome(item.id, "failed", error=f"job refused: {error}")
            for item in self.queue.job_items(job.id)
        ]
        self.queue.settle(outcomes, job_id=job.id)

    # -- following -----------------------------------------------------------------------

    async def _check(self, job: JobRow) -> None:
        assert job.remote_id is not None
        remote = await self.apis[job.provider].retrieve(job.remote_id)
        if remote.status != job.remote_status:
            self.queue.update_job(job.id, remote_status=remote.status)
        if remote.ended:
            refs = orjson.dumps(remote.output_refs).decode()
            self.queue.update_job(job.id, state="ended", output_refs=refs)
            self.observe("ended", job.id)

    async def cancel_jobs(self, job_ids: set[str]) -> None:
        for job in self.queue.jobs("in_progress"):
            if job.id in job_ids and job.remote_id is not None:
                try:
                    await self.apis[job.provider].cancel(job.remote_id)
                except BatchUpstreamError as exc:
                    log.warning("batch job %s: cancel failed: %s", job.id, exc.message)

    # -- collecting ----------------------------------------------------------------------

    async def _collect(self, job: JobRow) -> None:
        assert job.remote_id is not None
        refs = orjson.loads(job.output_refs or "{}")
        remote = RemoteJob(job.remote_id, job.remote_status or "", True, refs)
        found = (
            [] if job.remote_status == MISSING else await self.apis[job.provider].results(remote)
        )
        lines = {line.custom_id: line for line in found}
        cancelled = self.queue.cancelled_submissions()
        outcomes: list[Outcome] = []
        kept: list[tuple[ItemRow, bytes]] = []
        for item in self.queue.job_items(job.id):
            line = lines.get(item.upstream_id)
            outcome = self._outcome(item, line, job, item.submission_id in cancelled)
            outcomes.append(outcome)
            if outcome.state == "succeeded" and outcome.result is not None:
                kept.append((item, outcome.result))
        self.queue.settle(outcomes, job_id=job.id)
        self.observe("collected", job.id)
        if self.on_success is not None:
            for item, body in kept:
                await self.on_success(item, body)

    def _outcome(
        self, item: ItemRow, line: ResultLine | None, job: JobRow, cancelled: bool
    ) -> Outcome:
        again = item.attempts < self.max_attempts and not cancelled
        if line is None:  # the job failed as a whole, or the provider lost the line
            error = f"no result from job {job.remote_id} ({job.remote_status})"
            return Outcome(item.id, "queued" if again else "failed", error=error)
        if line.kind == "succeeded":
            return Outcome(item.id, "succeeded", 200, line.body, source="batch")
        if line.kind == "errored":
            retry = again and (line.status or 500) in RETRYABLE
            error = line.error or f"HTTP {line.status}"
            return Outcome(item.id, "queued" if retry else "failed", line.status, line.body, error)
        if cancelled:
            return Outcome(item.id, "cancelled", error="cancelled")
        return Outcome(item.id, "queued" if again else line.kind, error=line.error or line.kind)

    # -- booking -------------------------------------------------------------------------

    async def book(self) -> int:
        """Book every final item not booked yet; how many."""
        booked = 0
        while batch := self.queue.to_book(BOOK_CHUNK):
            done: list[int] = []
            try:
                for item in batch:
                    await self.booker.book(item)
                    done.append(item.id)
            finally:
                if done:
                    self.queue.mark_booked(done)
                    self.observe("booked", str(len(done)))
            booked += len(done)
        return booked

    async def _finish(self) -> None:
        for submission_id in self.queue.open_submissions():
            counts = self.queue.counts(submission_id)
            pending = counts.get("queued", 0) + counts.get("sent", 0)
            total = sum(v for k, v in counts.items() if k != "booked")
            if pending or counts["booked"] < total:
                continue
            state = self.queue.submission(submission_id)
            if state is not None and state[0] == "open":
                self.queue.set_submission_state(submission_id, "done")
            if self.notify is not None:
                try:
                    await self.notify(submission_id, counts)
                except Exception as exc:  # a webhook that fails never stops the poller
                    log.warning("batch %s: webhook failed: %s", submission_id, exc)
            self.queue.mark_notified(submission_id)
            self.observe("finished", submission_id)
