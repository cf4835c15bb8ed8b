"""Anthropic's Message Batches API on the simulator.

``POST /v1/messages/batches`` (``requests``: ``custom_id`` + ``params``),
``GET /v1/messages/batches`` (newest first, ``limit``/``after_id``),
``GET /v1/messages/batches/{id}``, ``GET /v1/messages/batches/{id}/results`` (JSONL, once
the batch ended), ``POST /v1/messages/batches/{id}/cancel``.

As Anthropic does, the request list is checked when the batch is created (a 400 naming
the request): at most 100,000 requests and 256 MB, ``custom_id`` of 1-64 letters, digits,
``-`` or ``_``, unique in the batch, ``params`` an object.  A request's ``params`` are
answered later as ``/v1/messages`` answers them (an invalid one is an ``errored``
result); succeeded messages report ``usage.service_tier: "batch"``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from thrifty.sim.anthropic_wire import AnthropicDialect
from thrifty.sim.batch_jobs import (
    BatchRoutes,
    LineAnswer,
    SimBatch,
    answer_line,
    bad_key,
    cancel,
    json_response,
    new_batch,
    page,
)
from thrifty.sim.state import SimState

MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 2**20
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Response:
    return json_response({"type": "error", "error": {"type": kind, "message": message}}, status)


def _stamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _batch_priced(answer: LineAnswer) -> LineAnswer:
    """A succeeded message as a batch reports it: ``usage.service_tier`` is ``batch``."""
    if answer.status != 200:
        return answer
    message = orjson.loads(answer.body)
    message.setdefault("usage", {})["service_tier"] = "batch"
    return LineAnswer(200, orjson.dumps(message))


def check_requests(body: object) -> tuple[list[str], list[object]] | str:
    """(custom ids, params), or the message of the 400 naming the first bad request."""
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        return "requests: Field required"
    requests = body["requests"]
    if not requests:
        return "requests: List should have at least 1 item"
    if len(requests) > MAX_REQUESTS:
        return f"requests: a batch holds at most {MAX_REQUESTS} requests"
    ids: list[str] = []
    params: list[object] = []
    seen: set[str] = set()
    for index, item in enumerate(requests):
        if not isinstance(item, dict):
            return f"requests.{index}: Input should be an object"
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            return f"requests.{index}.custom_id: must be 1-64 letters, digits, '-' or '_'"
        if custom_id in seen:
            return f"requests.{index}.custom_id: {custom_id!r} is not unique in the batch"
        if not isinstance(item.get("params"), dict):
            return f"requests.{index}.params: Input should be an object"
        seen.add(custom_id)
        ids.append(custom_id)
        params.append(item["params"])
    return ids, params


class AnthropicBatches(BatchRoutes):
    """The routes' state: batches, kept in memory."""

    def __init__(self, state: SimState, dialect: AnthropicDialect) -> None:
        super().__init__(state)
        self.dialect = dialect

    def routes(self) -> list[Route]:
        base = "/v1/messages/batches"
        return [
            Route(base, self.create, methods=["POST"]),
            Route(base, self.listing, methods=["GET"]),
            Route(base + "/{batch_id}", self.retrieve, methods=["GET"]),
            Route(base + "/{batch_id}/results", self.results, methods=["GET"]),
            Route(base + "/{batch_id}/cancel", self.cancel, methods=["POST"]),
        ]

    async def create(self, request: Request) -> Response:
        self.state.stats.hit("/v1/messages/batches")
        if bad_key(request):
            return _error(401, "invalid x-api-key", "authentication_error")
        raw = await request.body()
        if len(raw) > MAX_BYTES:
            return _error(413, f"the batch is larger than {MAX_BYTES} bytes", "request_too_large")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "There was an error parsing the body.")
        checked = check_requests(body)
        if isinstance(checked, str):
            return _error(400, checked)
        ids, params = checked
        caches = self.state.caches
        answers = [_batch_priced(answer_line(self.dialect, caches, p)) for p in params]
        batch = new_batch("msgbatch_", ids, answers, self.clock)
        batch.extra["base_url"] = str(request.base_url).rstrip("/")
        return self.created(batch)

    def not_found(self) -> Response:
        return _error(404, "batch not found", "not_found_error")

    async def cancel(self, request: Request) -> Response:
        batch = self.find(request)
        if batch is None:
            return self.not_found()
        running = self.clock.phase(batch) == "in_progress"
        cancel(batch, self.clock)
        wire = self.wire(batch)
        if running:
            wire["processing_status"] = "canceling"  # as Anthropic answers the cancel call
        return json_response(wire)

    async def listing(self, request: Request) -> Response:
        query = request.query_params
        found, more = page(list(self.batches.values()), query.get("limit"), query.get("after_id"))
        shown = [self.wire(b) for b in found]
        return json_response(
            {
                "data": shown,
                "has_more": more,
                "first_id": shown[0]["id"] if shown else None,
                "last_id": shown[-1]["id"] if shown else None,
            }
        )

    async def results(self, request: Request) -> Response:
        self.state.stats.hit("/v1/messages/batches/results")
        batch = self.find(request)
        if batch is None:
            return self.not_found()
        if self.clock.phase(batch) == "in_progress":
            return _error(400, "the batch has not ended: its results are not ready")
        done = self.clock.done(batch)
        lines: list[bytes] = []
        for index, (custom_id, answer) in enumerate(
            zip(batch.custom_ids, batch.answers, strict=True)
        ):
            outcome = self.clock.outcome(batch, index, done)
            result: dict[str, object]
            if outcome == "succeeded":
                result = {"type": "succeeded", "message": orjson.Fragment(answer.body)}
            elif outcome == "errored":
                result = {"type": "errored", "error": orjson.Fragment(answer.body)}
            else:
                result = {"type": "canceled" if outcome == "cancelled" else "expired"}
            lines.append(orjson.dumps({"custom_id": custom_id, "result": result}))
        return Response(b"\n".join(lines) + b"\n", media_type="application/x-jsonl")

    def wire(self, batch: SimBatch) -> dict[str, object]:
        phase = self.clock.phase(batch)
        done = self.clock.done(batch)
        succeeded = sum(1 for a in batch.answers[:done] if a.status == 200)
        ended = phase != "in_progress"
        left = batch.total - done
        counts = {
            "processing": 0 if ended else left,
            "succeeded": succeeded,
            "errored": done - succeeded,
            "canceled": left if phase == "cancelled" else 0,
            "expired": left if phase == "expired" else 0,
        }
        base = batch.extra.get("base_url", "")
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": _stamp(batch.created_at),
            "expires_at": _stamp(self.clock.expires_at_wall(batch)),
            "ended_at": _stamp(self.clock.ends_at_wall(batch)) if ended else None,
            "cancel_initiated_at": _stamp(batch.cancelled_wall),
            "archived_at": None,
            "results_url": f"{base}/v1/messages/batches/{batch.id}/results" if ended else None,
        }
