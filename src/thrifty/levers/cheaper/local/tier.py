"""The local tier as a stage: try the task's local model, fall back to the hosted one.

For a request of a task with a local tier:

1. The request goes to the local model, within the tier's deadline (``timeout_s``).
2. When it asks for JSON (:mod:`.json_check`), the local answer must be that JSON.  A
   streamed request is sent to the local server unstreamed, checked, and replayed as the
   stream the app asked for: nothing reaches the app before the answer is accepted.  A
   request that asks for no JSON streams straight through, once its first batch arrived
   (an error or a timeout before it still falls back).
3. An accepted answer is served (``x-thrifty-local: served``), booked at $0 with the
   saving of the model change.  Otherwise the request goes to the fallback model, and the
   local try is booked too, as a $0 ``Call(lever="local")`` (its tokens when it answered,
   none when it did not): ``x-thrifty-local: fallback-REASON``, REASON a JSON refusal
   (:data:`.json_check.Refusal`: ``invalid-json``, ``schema-mismatch``) or a failure
   (:data:`Failure`: ``down``, ``timeout``, ``error``).

A request the local model cannot take (a body the translation to the local server's
dialect cannot carry, a JSON schema that is not valid) goes straight to the fallback model,
with no local try (``x-thrifty-local: skipped``).  Other APIs than chat (embeddings, the
Responses API, legacy completions) pass through untouched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from thrifty.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from thrifty.levers.cheaper.local.json_check import (
    AnswerCheck,
    BadSchema,
    JsonChecks,
    Refusal,
    Verdict,
)
from thrifty.streams import replay
from thrifty.streams._guarded import Batches, GuardedStream, Started
from thrifty.types import (
    Call,
    ChatRequest,
    ChatResponse,
    Handler,
    Step,
    StreamEvent,
    Usage,
    attach_lever_calls,
)

log = logging.getLogger("thrifty.local")

HEADER = "local"  # sent as x-thrifty-local
Failure = Literal["down", "timeout", "error"]


@dataclass(frozen=True, slots=True)
class TaskTier:
    """One task's local tier: ``model`` on the local provider ``provider``; ``fallback``
    (``None``: the model the request calls)."""

    model: str
    provider: str
    fallback: str | None
    timeout_s: float


class LocalFailed(Exception):
    """The local try gave no usable answer; ``call`` is what it cost (booked at $0)."""

    def __init__(self, reason: Refusal | Failure, detail: str, call: Call) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.call = call


def _failure(exc: UpstreamError | TimeoutError) -> Failure:
    """``down``: the server could not be reached at all; ``timeout``: it did not answer in
    time; ``error``: it answered with an error (an HTTP error status, a broken answer)."""
    if isinstance(exc, UpstreamTimeout | TimeoutError):
        return "timeout"
    answered = exc.reached_upstream or exc.upstream_dialect is not None  # a status came back
    if isinstance(exc, UpstreamUnavailable) and not answered:
        return "down"
    return "error"


def _task(request: ChatRequest) -> str:
    return "no task" if request.task is None else f"task {request.task}"


def _unstreamed(request: ChatRequest) -> ChatRequest:
    body = {k: v for k, v in request.body.items() if k not in ("stream", "stream_options")}
    return dataclasses.replace(request, body=body, stream=False)


class LocalTier:
    """The stage: ``tiers`` maps a task (``None``: any other) to its tier; ``can_take``
    says whether a request can be sent to a local model (its dialect, its features)."""

    def __init__(
        self,
        tiers: Mapping[str | None, TaskTier],
        can_take: Callable[[ChatRequest, TaskTier], bool],
        checks: JsonChecks | None = None,
    ) -> None:
        self._tiers = dict(tiers)
        self._default = self._tiers.get(None)
        self._can_take = can_take
        self._checks = checks or JsonChecks()

    def __call__(self, inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            tier = self._tiers.get(request.task, self._default)
            if tier is None or request.api != "chat":
                return await inner(request)
            return await self._serve(inner, request, tier)

        return handle

    async def _serve(self, inner: Handler, request: ChatRequest, tier: TaskTier) -> ChatResponse:
        try:
            check = self._checks.check_for(request)
        except BadSchema as error:
            return await self._skip(inner, request, tier, str(error))
        if not self._can_take(request, tier):
            return await self._skip(inner, request, tier, "request not translatable")
        local = dataclasses.replace(request, model=tier.model)
        try:
            async with asyncio.timeout(tier.timeout_s):
                if check is None:
                    response = await self._unchecked(inner, local, tier)
                else:
                    response = await self._checked(inner, local, tier, check)
        except LocalFailed as failed:
            return await self._fall_back(inner, request, tier, failed)
        except (UpstreamError, TimeoutError) as exc:
            reason = _failure(exc)
            detail = f"local {reason}: {exc}" if str(exc) else f"local {reason}"
            no_answer = LocalFailed(reason, detail, self._no_answer(tier, local))
            return await self._fall_back(inner, request, tier, no_answer)
        response.steps.append(
            Step(lever="local", detail=f"{_task(request)}: {request.model} -> {tier.model}")
        )
        response.headers[HEADER] = "served"
        return response

    async def _unchecked(self, inner: Handler, local: ChatRequest, tier: TaskTier) -> ChatResponse:
        response = await inner(local)
        if response.stream is None:
            return response
        # Wait for the first batch: a server that fails before it still falls back.
        upstream = response.stream.__aiter__()
        try:
            first = await upstream.__anext__()
        except StopAsyncIteration:
            await _close(upstream)
            empty = self._no_answer(tier, local)
            raise LocalFailed("error", "local stream was empty", empty) from None
        except BaseException:
            await _close(upstream)
            raise
        response.stream = _prepend(first, upstream)
        return response

    async def _checked(
        self, inner: Handler, local: ChatRequest, tier: TaskTier, check: AnswerCheck
    ) -> ChatResponse:
        answer = await inner(_unstreamed(local) if local.stream else local)
        verdict: Verdict = check.verdict(answer.body, answer.dialect)
        if not verdict.accepted:
            answered = answer.answer_call()
            call = self._no_answer(tier, local) if answered is None else answered
            assert verdict.refusal is not None
            raise LocalFailed(verdict.refusal, verdict.detail, replace(call, lever="local"))
        if not local.stream:
            return answer
        assert answer.body is not None  # an accepted verdict read it
        streamed = replay(
            local, answer.body, dialect=answer.dialect, usage=answer.usage, provider=answer.provider
        )
        streamed.served = answer.served
        streamed.usage_reported = answer.usage_reported
        streamed.usage_estimated = answer.usage_estimated
        streamed.upstream_latency_s = answer.upstream_latency_s
        streamed.upstream_request_id = answer.upstream_request_id
        return streamed

    async def _fall_back(
        self, inner: Handler, request: ChatRequest, tier: TaskTier, failed: LocalFailed
    ) -> ChatResponse:
        log.info(
            "task %s: local %s not used (%s): %s",
            request.task,
            tier.model,
            failed.reason,
            failed.detail,
        )
        try:
            response = await self._hosted(inner, request, tier, f"fallback ({failed.detail})")
        except BaseException as exc:  # the local try is booked in the failed row too
            attach_lever_calls(exc, [failed.call])
            raise
        response.lever_calls.append(failed.call)
        response.headers[HEADER] = f"fallback-{failed.reason}"
        return response

    async def _skip(
        self, inner: Handler, request: ChatRequest, tier: TaskTier, why: str
    ) -> ChatResponse:
        response = await self._hosted(inner, request, tier, f"skipped ({why})")
        response.headers[HEADER] = "skipped"
        return response

    async def _hosted(
        self, inner: Handler, request: ChatRequest, tier: TaskTier, why: str
    ) -> ChatResponse:
        target = tier.fallback or request.model
        response = await inner(dataclasses.replace(request, model=target))
        # The step claims a model change only when this lever made it (an explicit
        # fallback model, or no stage outside changed the model): a change made outside
        # (routing) keeps its own share.
        if target != request.model or request.model == request.requested_model:
            detail = f"{_task(request)}: {tier.model} {why} -> {target}"
            response.steps.append(Step(lever="local", detail=detail))
        return response

    @staticmethod
    def _no_answer(tier: TaskTier, local: ChatRequest) -> Call:
        """The local try that gave no answer: no tokens, $0 (a local provider)."""
        return Call(
            model=tier.model,
            provider=tier.provider,
            usage=Usage(),
            lever="local",
            sent_model=local.model,
            at=local.received_at,
        )


async def _close(upstream: AsyncIterator[Sequence[StreamEvent]]) -> None:
    close = getattr(upstream, "aclose", None)
    if close is not None:
        await close()


def _prepend(
    first: Sequence[StreamEvent], upstream: AsyncIterator[Sequence[StreamEvent]]
) -> GuardedStream:
    """``first`` then the rest of ``upstream``; closing it closes ``upstream``."""
    flag = Started()

    async def batches() -> Batches:
        flag.started = True
        try:
            yield first
            async for batch in upstream:
                yield batch
        finally:
            await _close(upstream)

    async def unstarted() -> None:
        await _close(upstream)

    return GuardedStream(batches(), flag, unstarted)
