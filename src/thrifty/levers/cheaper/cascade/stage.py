"""The cascade stage: a task's tiers in turn, cheapest first.

Each tier but the last is called with the request made non-streaming (its answer is held
until the signals have judged it), and with OpenAI ``logprobs`` when a logprob floor is set
and the tier speaks OpenAI.  An accepted answer is served: as it is, or replayed as the
stream the app asked for (:func:`thrifty.streams.replay`).  A refused answer, an error, a
timeout or an answer that is not a complete body escalates to the next tier; the last tier
is called with the app's request as it is and always answers (its own failure is the
request's).  With ``stream_first_tier`` a streaming request gets tier 0's stream live: only
a failure before the stream starts escalates, as there is nothing to take back afterwards.

With ``agreement`` a second cheap answer is requested alongside the first; a learned
scorer fitted on both models reads the two together and may keep the second one.

Booking: the answer served is the row's call; every other call (a refused answer, the
agreement check's second answer, a failed call that reached the provider, with unknown
usage) is a ``Call(lever="cascade")`` in ``lever_calls``; one ``Step("cascade", ...)``
says what happened, and the response header ``x-thrifty-cascade`` says
``accepted-tier-0``, ``escalated-tier-N`` (tier N answered) or ``streamed-tier-0``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from thrifty.errors import ThriftyError
from thrifty.levers.cheaper.cascade.agreement import agree
from thrifty.levers.cheaper.cascade.answers import read_answer
from thrifty.levers.cheaper.cascade.plan import CascadePlan, Plans, plans_for
from thrifty.levers.cheaper.cascade.signals import Verdict, judge_all
from thrifty.streams import replay
from thrifty.types import (
    Call,
    ChatRequest,
    ChatResponse,
    Dialect,
    Handler,
    Stage,
    Step,
    Usage,
    attach_lever_calls,
)

if TYPE_CHECKING:
    from thrifty.pipeline import Parts

DialectOf = Callable[[str], Dialect | None]
ProviderOf = Callable[[str], str]
MAX_NOTE = 300
_STREAM_FIELDS = ("stream", "stream_options")
# What a replayed answer keeps of the held call that produced it (the ledger books it).
_CALL_FACTS = (
    "model",
    "provider",
    "served",
    "usage_reported",
    "usage_estimated",
    "service_tier",
    "batch",
    "server_tools",
    "lever_calls",
    "steps",
    "headers",
    "upstream_latency_s",
    "upstream_request_id",
)


@dataclass
class Ledger:
    """What the cascade paid for besides the answer, and what it did, in order."""

    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def note(self, index: int, model: str, what: str) -> None:
        self.notes.append(f"tier {index} {model} {what}"[:MAX_NOTE])


@dataclass(frozen=True)
class Upstreams:
    """What the stage needs to know of the providers."""

    dialect_of: DialectOf
    provider_of: ProviderOf
    translatable: Callable[[ChatRequest, Dialect], bool]


def held_request(request: ChatRequest, model: str, logprobs: bool) -> ChatRequest:
    """``request`` for ``model``, answered as one body (and with logprobs if asked)."""
    body = {k: v for k, v in request.body.items() if k not in _STREAM_FIELDS}
    if logprobs:
        body["logprobs"] = True
    return dataclasses.replace(request, model=model, body=body, stream=False)


def failed_call(model: str, provider: str) -> Call:
    """A call that reached the provider and failed: it may have been billed, unknown."""
    return Call(
        model=model, provider=provider, usage=Usage(), usage_reported=False, lever="cascade"
    )


def paid(response: ChatResponse) -> list[Call]:
    """Every call ``response`` cost, as the cascade's calls."""
    answer = response.answer_call()
    mine = [] if answer is None else [dataclasses.replace(answer, lever="cascade")]
    return [*response.lever_calls, *mine]


async def discard(response: ChatResponse) -> None:
    """Close a stream nobody will read."""
    close = getattr(response.stream, "aclose", None)
    if close is not None:
        await close()


def without_logprobs(response: ChatResponse) -> None:
    """Drop the logprobs the cascade asked for and the app did not."""
    body = response.body
    if body is None or not isinstance(body.get("choices"), list):
        return
    choices = [{**c, "logprobs": None} if isinstance(c, dict) else c for c in body["choices"]]
    response.body = {**body, "choices": choices}


class Cascade:
    """One task's cascade over ``inner``."""

    def __init__(self, plan: CascadePlan, inner: Handler, upstreams: Upstreams) -> None:
        self.plan = plan
        self.inner = inner
        self.upstreams = upstreams

    async def __call__(self, request: ChatRequest) -> ChatResponse:
        ledger = Ledger()
        try:
            return await self._run(request, ledger)
        except BaseException as exc:  # the top tier failed, or the app left: calls made
            attach_lever_calls(exc, ledger.calls)  # so far are still booked
            raise

    async def _run(self, request: ChatRequest, ledger: Ledger) -> ChatResponse:
        plan = self.plan
        top = len(plan.tiers) - 1
        for index, model in enumerate(plan.tiers[:top]):
            to = self.upstreams.dialect_of(model)
            if to is not None and not self.upstreams.translatable(request, to):
                ledger.note(index, model, "skipped (request not translatable)")
                continue
            if index == 0 and plan.stream_first_tier and request.stream:
                streamed = await self._streamed(request, model, ledger)
                if streamed is not None:
                    return self._finish(streamed, request, ledger, "streamed-tier-0")
                continue
            accepted = await self._held(request, index, model, ledger)
            if accepted is not None:
                outcome = "accepted-tier-0" if index == 0 else f"escalated-tier-{index}"
                return self._finish(accepted, request, ledger, outcome)
        response = await self.inner(dataclasses.replace(request, model=plan.tiers[top]))
        ledger.note(top, plan.tiers[top], "answered")
        return self._finish(response, request, ledger, f"escalated-tier-{top}")

    async def _call(self, request: ChatRequest) -> ChatResponse:
        timeout_s = self.plan.timeout_for(request.model)
        if timeout_s is None:
            return await self.inner(request)
        async with asyncio.timeout(timeout_s):
            return await self.inner(request)

    async def _attempt(
        self, request: ChatRequest, ledger: Ledger
    ) -> tuple[ChatResponse | None, str]:
        """One held call: the response, or ``None`` and why (its cost booked if any)."""
        response, why = await self._send(request, ledger)
        if response is None:
            return None, why
        if response.body is None:
            ledger.calls.extend(paid(response))
            await discard(response)
            return None, "gave no complete answer"
        return response, ""

    async def _held(
        self, request: ChatRequest, index: int, model: str, ledger: Ledger
    ) -> ChatResponse | None:
        plan = self.plan
        logprobs = (
            plan.want_logprobs
            and request.dialect == "openai"
            and self.upstreams.dialect_of(model) in ("openai", None)
        )
        sent = held_request(request, model, logprobs)
        if not plan.agreement:
            response, why = await self._attempt(sent, ledger)
            if response is None:
                ledger.note(index, model, why)
                return None
            answer = read_answer(sent, response.dialect, response.body or {}, model)
            verdict = judge_all(plan.signals_for(model), sent, answer)
            return self._verdict(request, index, model, ledger, response, verdict, logprobs)
        second = dataclasses.replace(sent, model=plan.agreement_model or model)
        (response, why), (other, other_why) = await asyncio.gather(
            self._attempt(sent, ledger), self._attempt(second, ledger)
        )
        if response is None or other is None:
            for made in (response, other):
                if made is not None:
                    ledger.calls.extend(paid(made))
            ledger.note(index, model, why or f"agreement call {other_why}")
            return None
        answer = read_answer(sent, response.dialect, response.body or {}, model)
        second_answer = read_answer(second, other.dialect, other.body or {}, second.model)
        if plan.pair_scorer is not None and index == 0:
            # the scorer reads both answers, and may keep the second one
            verdict, pick = plan.pair_scorer.judge_pair(
                [answer, second_answer]
                if plan.pair_scorer.scorer.cheap_models[0] == model
                else [second_answer, answer]
            )
            if plan.pair_scorer.scorer.cheap_models[pick] != model:
                response, other, answer = other, response, second_answer
            others = [s for s in plan.signals if s.name != "scorer"]
            if verdict.accept:
                rest = judge_all(others, sent, answer)
                verdict = Verdict(rest.accept, f"{verdict.reason}, {rest.reason}")
        else:
            verdict = judge_all(plan.signals_for(model), sent, answer)
            if verdict.accept:
                agreed = agree(answer, second_answer)
                verdict = Verdict(agreed.accept, f"{verdict.reason}, {agreed.reason}")
        ledger.calls.extend(paid(other))
        return self._verdict(request, index, response.model, ledger, response, verdict, logprobs)

    def _verdict(
        self,
        request: ChatRequest,
        index: int,
        model: str,
        ledger: Ledger,
        response: ChatResponse,
        verdict: Verdict,
        logprobs: bool,
    ) -> ChatResponse | None:
        """The held answer served as the app asked (accepted), or booked and dropped."""
        if not verdict.accept:
            ledger.calls.extend(paid(response))
            ledger.note(index, model, f"refused ({verdict.reason})")
            return None
        ledger.note(index, model, f"accepted ({verdict.reason})")
        if logprobs and request.body.get("logprobs") is not True:
            without_logprobs(response)
        if not request.stream:
            return response
        return self._as_stream(request, response)

    @staticmethod
    def _as_stream(request: ChatRequest, held: ChatResponse) -> ChatResponse:
        """The held answer replayed as the stream the app asked for, still booked as the
        call that produced it."""
        assert held.body is not None
        streamed = replay(request, held.body, dialect=held.dialect, usage=held.usage)
        for name in _CALL_FACTS:
            setattr(streamed, name, getattr(held, name))
        return streamed

    async def _streamed(
        self, request: ChatRequest, model: str, ledger: Ledger
    ) -> ChatResponse | None:
        sent = dataclasses.replace(request, model=model)
        response, why = await self._send(sent, ledger)
        if response is None:
            ledger.note(0, model, why)
            return None
        ledger.note(0, model, "streamed")
        return response

    async def _send(self, request: ChatRequest, ledger: Ledger) -> tuple[ChatResponse | None, str]:
        """One call as sent: the response, or ``None`` and why (a call that reached the
        provider is booked with unknown usage)."""
        provider = self.upstreams.provider_of(request.model)
        try:
            return await self._call(request), ""
        except TimeoutError:
            ledger.calls.append(failed_call(request.model, provider))
            return None, f"timed out after {self.plan.timeout_for(request.model)} s"
        except ThriftyError as error:
            if error.reached_upstream:
                ledger.calls.append(failed_call(request.model, provider))
            return None, f"failed ({error.code})"

    def _finish(
        self, response: ChatResponse, request: ChatRequest, ledger: Ledger, outcome: str
    ) -> ChatResponse:
        response.lever_calls[:0] = ledger.calls
        task = f" task {request.task}" if request.task else ""
        detail = f"cascade {outcome}{task}: " + "; ".join(ledger.notes)
        response.steps.append(Step(lever="cascade", detail=detail))
        response.headers["cascade"] = outcome
        return response


def cascade_stage(plans: Plans, upstreams: Upstreams) -> Stage:
    """The stage over every task's plan; requests of other tasks, and non-chat
    operations, pass through."""

    def wrap(inner: Handler) -> Handler:
        every = [*plans.by_task.values(), *([plans.default] if plans.default else [])]
        runners = {plan.task: Cascade(plan, inner, upstreams) for plan in every}

        async def handle(request: ChatRequest) -> ChatResponse:
            plan = plans.for_task(request.task) if request.api == "chat" else None
            if plan is None:
                return await inner(request)
            return await runners[plan.task](request)

        return handle

    return wrap


async def build(parts: Parts) -> Stage | None:
    """The cascade stage, or ``None`` when no task has one.  A misconfigured cascade raises
    :class:`~thrifty.errors.ConfigError` naming its task."""
    from thrifty.levers.cheaper.routing import translatable

    def dialect_of(model: str) -> Dialect | None:
        upstream = parts.providers.find(model)
        return None if upstream is None else upstream.settings.dialect

    def provider_of(model: str) -> str:
        upstream = parts.providers.find(model)
        return "unknown" if upstream is None else upstream.name

    plans = plans_for(parts.settings, lambda model: parts.providers.find(model) is not None)
    if not plans:
        return None
    return cascade_stage(plans, Upstreams(dialect_of, provider_of, translatable))
