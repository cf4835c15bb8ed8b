"""The simulator's batch engine, shared by both providers' batch endpoints.

A batch answers its lines exactly as the chat endpoints would (same answers, same usage,
same prompt cache), but reveals them over simulated time: line ``i`` of ``n`` is done
``batch_duration_s * (i + 1) / n`` simulated seconds after the batch was created, and the
simulated clock runs ``batch_time_scale`` times faster than the app's clock.  A batch
still running when ``batch_window_s`` has passed expires: the lines done by then keep
their answers, the rest are ``expired``.  A cancelled batch keeps the lines done when it
was cancelled; the rest are ``cancelled``.  A line that is not a valid request, or whose
last user message carries the marker ``[[sim:fault=500]]`` (any status fault), fails alone
with that status: a partial failure.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response

from thrifty.sim.chat import BAD_KEY
from thrifty.sim.config import SimConfig
from thrifty.sim.dialect import BadRequest, Caches, Dialect
from thrifty.sim.faults import STATUS_FAULTS, FaultError, FaultQueue, plan_request
from thrifty.sim.state import SimState
from thrifty.sim.tokens import make_answer

LineOutcome = Literal["succeeded", "errored", "expired", "cancelled", "pending"]
Phase = Literal["in_progress", "cancelling", "completed", "expired", "cancelled"]


@dataclass(frozen=True, slots=True)
class LineAnswer:
    """What one line got: an HTTP status and the JSON body the chat endpoint would send."""

    status: int
    body: bytes


def answer_line(dialect: Dialect, caches: Caches, body: object) -> LineAnswer:
    """One batch line answered as the chat endpoint answers a non-stream request."""
    try:
        if isinstance(body, dict) and body.get("stream"):
            raise BadRequest("stream is not supported in a batch request", param="stream")
        prep = dialect.prepare(body)
        plan = plan_request(None, None, prep.last_user_text, FaultQueue())
    except BadRequest as exc:
        return LineAnswer(400, dialect.error(400, exc.message, param=exc.param, code=exc.code))
    except FaultError as exc:
        return LineAnswer(400, dialect.error(400, str(exc)))
    if plan.fault in STATUS_FAULTS:
        status = int(plan.fault or 500)
        return LineAnswer(status, dialect.fault_error(status))
    usage = dialect.prompt_usage(prep, caches)
    answer = make_answer(prep.seed, prep.last_user_text, prep.max_tokens)
    return LineAnswer(200, dialect.response(prep, answer, usage))


@dataclass(slots=True)
class SimBatch:
    """One batch: its lines' answers (computed at creation) and its timeline."""

    id: str
    custom_ids: list[str]
    answers: list[LineAnswer]
    started: float  # the app's clock when created
    created_at: float  # wall-clock epoch seconds, for the wire objects
    cancelled_at: float | None = None  # the app's clock when cancelled
    cancelled_wall: float | None = None
    extra: dict[str, object] = field(default_factory=dict)  # provider-specific fields

    @property
    def total(self) -> int:
        return len(self.answers)


class BatchClock:
    """Turns the app's clock into batch progress (see the module docstring)."""

    def __init__(self, config: SimConfig, clock: Callable[[], float]) -> None:
        self._config = config
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    def _simulated(self, batch: SimBatch, at: float) -> float:
        return max(0.0, (at - batch.started) * self._config.batch_time_scale)

    def _done_by(self, batch: SimBatch, simulated: float) -> int:
        duration = self._config.batch_duration_s
        if duration <= 0 or batch.total == 0:
            return batch.total
        return min(batch.total, int(simulated * batch.total / duration))

    def phase(self, batch: SimBatch) -> Phase:
        if batch.cancelled_at is not None:
            return "cancelled"
        simulated = self._simulated(batch, self.now())
        window = self._config.batch_window_s
        if self._config.batch_duration_s <= window:
            done = self._done_by(batch, simulated) >= batch.total
            return "completed" if done else "in_progress"
        return "expired" if simulated >= window else "in_progress"

    def done(self, batch: SimBatch) -> int:
        """How many lines (the first ones, in order) are done."""
        at = batch.cancelled_at if batch.cancelled_at is not None else self.now()
        simulated = min(self._simulated(batch, at), self._config.batch_window_s)
        return self._done_by(batch, simulated)

    def outcome(self, batch: SimBatch, index: int, done: int) -> LineOutcome:
        if index < done:
            return "succeeded" if batch.answers[index].status == 200 else "errored"
        phase = self.phase(batch)
        if phase == "cancelled":
            return "cancelled"
        if phase == "expired":
            return "expired"
        return "pending"

    def ends_at_wall(self, batch: SimBatch) -> float:
        """Wall-clock time the batch finished (completed, expired or cancelled)."""
        if batch.cancelled_wall is not None:
            return batch.cancelled_wall
        finish = min(self._config.batch_duration_s, self._config.batch_window_s)
        return batch.created_at + finish / max(self._config.batch_time_scale, 1e-9)

    def expires_at_wall(self, batch: SimBatch) -> float:
        return batch.created_at + self._config.batch_window_s


def new_batch(
    prefix: str, custom_ids: list[str], answers: list[LineAnswer], clock: BatchClock
) -> SimBatch:
    return SimBatch(
        id=prefix + uuid.uuid4().hex[:24],
        custom_ids=custom_ids,
        answers=answers,
        started=clock.now(),
        created_at=time.time(),
    )


def cancel(batch: SimBatch, clock: BatchClock) -> None:
    """Cancel ``batch`` now, if it is still running (idempotent)."""
    if batch.cancelled_at is None and clock.phase(batch) == "in_progress":
        batch.cancelled_at = clock.now()
        batch.cancelled_wall = time.time()


def usage_of(answer: LineAnswer) -> dict[str, object]:
    """The ``usage`` object of a succeeded line's body (empty when it has none)."""
    try:
        usage = orjson.loads(answer.body).get("usage")
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    return usage if isinstance(usage, dict) else {}


def json_response(obj: object, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def bad_key(request: Request) -> bool:
    """The request carries the simulator's rejected key (``sim-bad-key``)."""
    auth = request.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
    return BAD_KEY.decode() in (bearer, request.headers.get("x-api-key"))


def page(
    items: list[SimBatch], limit_text: str | None, after: str | None
) -> tuple[list[SimBatch], bool]:
    """Newest first, after the batch ``after`` (exclusive), at most ``limit`` (1-100), and
    whether more follow."""
    try:
        limit = min(max(int(limit_text or 20), 1), 100)
    except ValueError:
        limit = 20
    ordered = items[::-1]  # ``items`` in creation order
    if after is not None:
        ids = [b.id for b in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    return ordered[:limit], len(ordered) > limit


class BatchRoutes:
    """What both providers' batch routes share: the batches kept in memory, by id."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.clock = BatchClock(state.config, state.clock)
        self.batches: dict[str, SimBatch] = {}

    def not_found(self) -> Response:
        raise NotImplementedError

    def wire(self, batch: SimBatch) -> dict[str, object]:
        raise NotImplementedError

    def find(self, request: Request) -> SimBatch | None:
        return self.batches.get(request.path_params["batch_id"])

    def created(self, batch: SimBatch) -> Response:
        self.batches[batch.id] = batch
        self.state.stats.status(200)
        return json_response(self.wire(batch))

    async def retrieve(self, request: Request) -> Response:
        batch = self.find(request)
        return self.not_found() if batch is None else json_response(self.wire(batch))
