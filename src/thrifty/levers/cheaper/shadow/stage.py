"""The shadow evaluation stage: compare a sample of cheaper answers with a strong model's.

Per request of a task with the lever on (``[tasks.T.shadow] enabled = true``, or every task
from ``[levers.shadow]``) that a model other than ``model`` (the strong one) answered with
plain text: with probability ``sample_rate``, once the answer is complete (a stream: at its
end), a background task sends the same request, as the provider received it, to ``model``
(non-streamed, straight to the providers: no cache, no other lever), compares the two
answers (:mod:`.compare`), keeps a :class:`~.samples.ShadowSample` and books the spend in
the ledger as its own row (:mod:`.booking`).  The app's answer never waits for any of it.

Bounds: ``max_usd_per_day`` per task and UTC day (a shared counter reserves the estimated
cost, the strong model's price of the served call's tokens, before the call and settles the
actual after it, so processes sharing the file share the budget: :mod:`.budget`);
``max_in_flight`` shadow calls at once (a sample beyond is skipped); a strong model with no
known price is never shadowed (its budget cannot be kept).  At shutdown, running shadow
calls get a few seconds to finish; the rest are cancelled and booked with an unknown cost.
The settings of each task are resolved by :mod:`.rules`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thrifty.ledger.accounting import Accountant
from thrifty.ledger.money import optional_usd_to_pico
from thrifty.levers.cheaper.learned.prompt import prompt_of
from thrifty.levers.cheaper.shadow.booking import Outcome, shadow_row
from thrifty.levers.cheaper.shadow.budget import ShadowBudget, budget_key
from thrifty.levers.cheaper.shadow.rules import (
    STORE_WIDE,
    TaskShadow,
    samples_path,
    task_rules,
)
from thrifty.levers.cheaper.shadow.samples import ShadowSample, ShadowSamples, SqliteShadowSamples
from thrifty.levers.fewer_calls.semantic.answers import answer_text
from thrifty.levers.lever_wide import refuse_task_overrides
from thrifty.streams import observed
from thrifty.streams.record import Recorder, body_of
from thrifty.types import JSON, ChatRequest, ChatResponse, Handler, Stage, new_request_id

if TYPE_CHECKING:
    from thrifty.pipeline import Parts
    from thrifty.store.protocols import Counters, LedgerWriter

__all__ = ["Shadow", "TaskShadow", "build", "samples_path"]

log = logging.getLogger("thrifty.shadow")
MAX_BODY_BYTES = 1_000_000  # a longer streamed answer is not shadowed
DRAIN_S = 5.0  # how long shutdown waits for running shadow calls


class Shadow:
    """The stage and its background work.  ``call`` is the providers (the innermost
    handler); ``provider_of`` names the provider that serves a model (for pricing)."""

    def __init__(
        self,
        rules: Mapping[str | None, TaskShadow | None],
        *,
        call: Handler,
        samples: ShadowSamples,
        budget: Counters,
        ledger: LedgerWriter,
        accountant: Accountant,
        provider_of: Callable[[str], str | None],
        max_in_flight: int = 8,
        random: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rules = dict(rules)
        self._call = call
        self._samples = samples
        self._budget = ShadowBudget(budget, accountant, provider_of)
        self._ledger = ledger
        self._accountant = accountant
        self._max_in_flight = max_in_flight
        self._random = random
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # -- the stage --------------------------------------------------------------------

    def __call__(self, inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            response = await inner(request)
            rules = self._rules.get(request.task, self._rules.get(None))
            served = response.served
            if (
                rules is None
                or served is None
                or request.api != "chat"
                or served.model == rules.model
                or self._random() >= rules.sample_rate
            ):
                return response
            if response.stream is None:
                self._consider(request, response, rules, response.body)
            else:
                self._consider_at_end(request, response, rules)
            return response

        return handle

    def _consider_at_end(
        self, request: ChatRequest, response: ChatResponse, rules: TaskShadow
    ) -> None:
        assert response.stream is not None
        recorder = Recorder(response.stream, budget=2 * MAX_BODY_BYTES)

        async def on_complete() -> None:
            events, recorder.events = recorder.events, []
            if not recorder.overflow:
                body = body_of(events, response.dialect, response.usage)
                self._consider(request, response, rules, body)

        async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
            recorder.events = []  # a cut stream is not compared

        response.stream = observed(response, recorder, on_complete=on_complete, on_abort=on_abort)

    def _consider(
        self, request: ChatRequest, response: ChatResponse, rules: TaskShadow, body: JSON | None
    ) -> None:
        """Start shadowing ``response`` if it is a plain text answer and there is room."""
        if body is None or response.failure is not None or self._closed:
            return
        text = answer_text(body, response.dialect)
        prompt = prompt_of(request)
        if text is None or prompt is None:
            return
        if len(self._tasks) >= self._max_in_flight:
            log.info("shadow: %d calls in flight; sample skipped", len(self._tasks))
            return
        task = asyncio.create_task(self._shadow(request, response, rules, prompt, text))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the background work ----------------------------------------------------------

    async def _shadow(
        self,
        request: ChatRequest,
        response: ChatResponse,
        rules: TaskShadow,
        prompt: str,
        served_text: str,
    ) -> None:
        estimate = self._budget.estimate(rules, response.usage)
        if estimate is None:
            log.warning("shadow: no price known for %s; not shadowed", rules.model)
            return
        key = budget_key(request.task, self._clock())
        if not await self._budget.reserve(key, rules, estimate):
            return
        assert response.served is not None
        shadow = dataclasses.replace(
            response.served,
            model=rules.model,
            requested_model=rules.model,
            stream=False,
            endpoint="shadow",
            request_id=new_request_id(),
            received_at=self._clock(),
        )
        job = Job(request, response, shadow, rules, prompt, served_text, key, estimate)
        outcome = Outcome()
        try:
            strong = await self._call(shadow)
            outcome.strong_call = strong.answer_call()
            if strong.body is not None:
                outcome.strong_text = answer_text(strong.body, strong.dialect)
            if outcome.strong_text is not None:
                agreed, judged = await rules.compare(
                    prompt, outcome.strong_text, served_text, shadow
                )
                outcome.judge_call = judged[0] if judged else None
                outcome.agreed = agreed
        except Exception as exc:
            outcome.failed(exc)
            log.warning("shadow call for %s failed: %s", rules.model, outcome.error)
        except BaseException as exc:  # cancelled at shutdown: booked, then let go
            outcome.failed(exc)
            await self._book(job, outcome)
            raise
        await self._book(job, outcome)

    async def _book(self, job: Job, outcome: Outcome) -> None:
        """The ledger row, the budget settled with the actual cost, the sample."""
        row, cost = shadow_row(
            job.request, job.response.model, job.shadow, outcome, self._accountant, job.started
        )
        try:
            await self._ledger.record(row)
        except Exception:
            log.exception("shadow: could not book the shadow call in the ledger")
        actual = optional_usd_to_pico(cost.usd)
        served = job.response.answer_call()
        sample = ShadowSample(
            ts=job.shadow.received_at,
            task=job.request.task,
            tenant=job.request.tenant,
            request_id=job.request.request_id,
            served_model=job.response.model,
            shadow_model=job.rules.model,
            comparator=job.rules.comparator,
            agreed=outcome.agreed,
            prompt=job.prompt,
            served_answer=job.served_text,
            shadow_answer=outcome.strong_text,
            served_cost_pusd=self._budget.call_cost(served),
            shadow_cost_pusd=self._budget.call_cost(outcome.strong_call),
            error=outcome.error,
            judge_cost_pusd=self._budget.call_cost(outcome.judge_call),
        )
        try:
            await self._budget.settle(job.key, job.estimate, actual)
            await self._samples.add(sample)
        except Exception:
            log.exception("shadow: could not keep the sample")

    # -- lifetime ---------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self, wait_s: float | None = None) -> None:
        """Wait for the running shadow calls (at most ``wait_s`` seconds)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_s)

    async def close(self) -> None:
        """Stop taking samples, give running calls :data:`DRAIN_S`, cancel the rest."""
        self._closed = True
        await self.drain(DRAIN_S)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task


@dataclass
class Job:
    """One shadowing: the app's request and answer, the strong model's request."""

    request: ChatRequest
    response: ChatResponse
    shadow: ChatRequest
    rules: TaskShadow
    prompt: str
    served_text: str
    key: str  # its budget counter
    estimate: int  # pusd reserved
    started: float = dataclasses.field(default_factory=time.perf_counter)


async def build(parts: Parts) -> Stage | None:
    from thrifty.pipeline import accountant_for
    from thrifty.store.sqlite import SqliteCounters

    settings = parts.settings
    levers = {task: settings.levers_for(task).shadow for task in [None, *settings.tasks]}
    if not any(lever.enabled for lever in levers.values()):
        return None
    refuse_task_overrides(
        settings, "shadow", STORE_WIDE, "one store and one limit serve every task"
    )
    rules = {
        task: task_rules(task, lever, parts) if lever.enabled else None
        for task, lever in levers.items()
    }
    path = samples_path(settings, settings.levers.shadow)
    samples = await parts.resources.enter_async_context(SqliteShadowSamples(path))
    budget = await parts.resources.enter_async_context(SqliteCounters(path, table="shadow_budget"))

    def provider_of(model: str) -> str | None:
        upstream = parts.providers.find(model)
        return None if upstream is None else upstream.name

    shadow = Shadow(
        rules,
        call=parts.providers,
        samples=samples,
        budget=budget,
        ledger=parts.ledger,
        accountant=accountant_for(parts),
        provider_of=provider_of,
        max_in_flight=settings.levers.shadow.max_in_flight,
    )
    parts.resources.push_async_callback(shadow.close)  # closed before the store (newest first)
    return shadow
