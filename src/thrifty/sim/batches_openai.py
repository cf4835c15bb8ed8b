"""OpenAI's Files and Batch API on the simulator.

``POST /v1/files`` (multipart: ``purpose``, ``file``), ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``; ``POST /v1/batches``, ``GET /v1/batches`` (newest first,
``limit``/``after``), ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``.

The input file is checked when the batch is created, as OpenAI does: a line that is not
JSON, lacks ``custom_id``/``method``/``url``/``body``, repeats a ``custom_id``, names another
URL than the batch's endpoint or another model than the first line, or a file over
50,000 lines or 200 MB, fails the whole batch (``status: failed`` with ``errors.data``
naming each line).  Lines are then answered as the chat endpoint answers them
(:mod:`thrifty.sim.batch_jobs`); when the batch ends its output file holds the succeeded
lines and its error file the others (``response.status_code`` for a failed request,
``error.code`` ``batch_expired`` / ``batch_cancelled`` for lines never run).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from thrifty.sim.batch_files import FormError, check_lines, parse_form
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
    usage_of,
)
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.sim.state import SimState

MAX_FILE_BYTES = 512 * 2**20
ENDPOINTS = ("/v1/chat/completions",)
PURPOSES = ("batch", "fine-tune", "assistants", "vision", "user_data", "evals")


@dataclass(frozen=True, slots=True)
class SimFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def wire(self) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


def _error(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return json_response(body, status)


def _count(usage: object, *path: str) -> int:
    """The whole number at ``path`` in a usage object (0 when absent)."""
    for key in path:
        usage = usage.get(key) if isinstance(usage, dict) else None
    return usage if isinstance(usage, int) else 0


class OpenAIBatches(BatchRoutes):
    """The routes' state: files and batches, kept in memory."""

    def __init__(self, state: SimState, dialect: OpenAIDialect) -> None:
        super().__init__(state)
        self.dialect = dialect
        self.files: dict[str, SimFile] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/v1/files", self.upload, methods=["POST"]),
            Route("/v1/files/{file_id}", self.file, methods=["GET"]),
            Route("/v1/files/{file_id}/content", self.content, methods=["GET"]),
            Route("/v1/batches", self.create, methods=["POST"]),
            Route("/v1/batches", self.listing, methods=["GET"]),
            Route("/v1/batches/{batch_id}", self.retrieve, methods=["GET"]),
            Route("/v1/batches/{batch_id}/cancel", self.cancel, methods=["POST"]),
        ]

    # -- files -------------------------------------------------------------------------

    def _add_file(self, filename: str, purpose: str, content: bytes) -> SimFile:
        made = SimFile(
            "file-" + uuid.uuid4().hex[:24], filename, purpose, content, int(time.time())
        )
        self.files[made.id] = made
        return made

    async def upload(self, request: Request) -> Response:
        self.state.stats.hit("/v1/files")
        if bad_key(request):
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        body = await request.body()
        if len(body) > MAX_FILE_BYTES:
            return _error(413, f"The file is larger than {MAX_FILE_BYTES} bytes.")
        try:
            fields = parse_form(request.headers.get("content-type", ""), body)
        except FormError as exc:
            return _error(400, str(exc))
        purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if purpose not in PURPOSES:
            return _error(400, f"Invalid purpose {purpose!r}.", param="purpose")
        if "file" not in fields:
            return _error(400, "Missing required parameter: 'file'.", param="file")
        filename, content = fields["file"]
        if purpose == "batch" and not (filename or "").endswith(".jsonl"):
            return _error(400, "A batch input file must be a .jsonl file.", param="file")
        return json_response(self._add_file(filename or "upload", purpose, content).wire())

    async def file(self, request: Request) -> Response:
        found = self.files.get(request.path_params["file_id"])
        if found is None:
            return _error(404, "No such File object.", param="id")
        return json_response(found.wire())

    async def content(self, request: Request) -> Response:
        self.state.stats.hit("/v1/files/content")
        found = self.files.get(request.path_params["file_id"])
        if found is None:
            return _error(404, "No such File object.", param="id")
        return Response(found.content, media_type="application/octet-stream")

    # -- batches -----------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        self.state.stats.hit("/v1/batches")
        if bad_key(request):
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        try:
            params = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(params, dict):
            return _error(400, "The body must be a JSON object.")
        endpoint = params.get("endpoint")
        if endpoint not in ENDPOINTS:
            return _error(400, f"Invalid endpoint {endpoint!r}.", param="endpoint")
        if params.get("completion_window") != "24h":
            return _error(400, "completion_window must be '24h'.", param="completion_window")
        source = self.files.get(str(params.get("input_file_id")))
        if source is None:
            return _error(404, "No such File object.", param="input_file_id")
        if source.purpose != "batch":
            return _error(400, "The input file's purpose must be 'batch'.", param="input_file_id")
        ids, bodies, errors = check_lines(source.content, str(endpoint))
        answers: list[LineAnswer] = []
        if not errors:
            caches = self.state.caches
            answers = [answer_line(self.dialect, caches, body) for body in bodies]
        batch = new_batch("batch_", ids if not errors else [], answers, self.clock)
        model = bodies[0].get("model") if bodies and isinstance(bodies[0], dict) else None
        batch.extra = {
            "endpoint": endpoint,
            "input_file_id": source.id,
            "metadata": params.get("metadata"),
            "model": model,
            "errors": errors,
        }
        return self.created(batch)

    def not_found(self) -> Response:
        return _error(404, "No such batch.", param="batch_id")

    async def cancel(self, request: Request) -> Response:
        batch = self.find(request)
        if batch is None:
            return self.not_found()
        if batch.extra.get("errors") or self.clock.phase(batch) != "in_progress":
            status = self.wire(batch)["status"]
            return _error(409, f"Cannot cancel a batch with status '{status}'.")
        cancel(batch, self.clock)
        wire = self.wire(batch)
        wire["status"] = "cancelling"  # as OpenAI answers the cancel call itself
        return json_response(wire)

    async def listing(self, request: Request) -> Response:
        query = request.query_params
        found, more = page(list(self.batches.values()), query.get("limit"), query.get("after"))
        shown = [self.wire(b) for b in found]
        return json_response(
            {
                "object": "list",
                "data": shown,
                "first_id": shown[0]["id"] if shown else None,
                "last_id": shown[-1]["id"] if shown else None,
                "has_more": more,
            }
        )

    # -- wire objects ------------------------------------------------------------------

    def wire(self, batch: SimBatch) -> dict[str, object]:
        extra = batch.extra
        created = int(batch.created_at)
        wire: dict[str, object] = {
            "id": batch.id,
            "object": "batch",
            "endpoint": extra["endpoint"],
            "model": extra.get("model"),
            "errors": None,
            "input_file_id": extra["input_file_id"],
            "completion_window": "24h",
            "created_at": created,
            "in_progress_at": None,
            "expires_at": int(self.clock.expires_at_wall(batch)),
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "output_file_id": None,
            "error_file_id": None,
            "metadata": extra.get("metadata"),
        }
        errors = extra.get("errors")
        if errors:
            wire.update(
                status="failed",
                failed_at=created,
                errors={"object": "list", "data": errors},
                request_counts={"total": 0, "completed": 0, "failed": 0},
            )
            return wire
        phase = self.clock.phase(batch)
        done = self.clock.done(batch)
        succeeded = sum(1 for a in batch.answers[:done] if a.status == 200)
        failed = done - succeeded
        if phase != "in_progress":
            failed = batch.total - succeeded
            ended = int(self.clock.ends_at_wall(batch))
            stamp = {"completed": "completed_at", "expired": "expired_at"}.get(
                phase, "cancelled_at"
            )
            wire[stamp] = ended
            if phase == "cancelled":
                wire["cancelling_at"] = ended
            wire.update(self._output_files(batch, done))
        wire.update(
            status=phase,
            in_progress_at=created,
            request_counts={"total": batch.total, "completed": succeeded, "failed": failed},
            usage=self._usage(batch, done),
        )
        return wire

    def _usage(self, batch: SimBatch, done: int) -> dict[str, object]:
        totals = {"input": 0, "cached": 0, "output": 0, "reasoning": 0}
        for answer in batch.answers[:done]:
            if answer.status != 200:
                continue
            usage = usage_of(answer)
            totals["input"] += _count(usage, "prompt_tokens")
            totals["output"] += _count(usage, "completion_tokens")
            totals["cached"] += _count(usage, "prompt_tokens_details", "cached_tokens")
            totals["reasoning"] += _count(usage, "completion_tokens_details", "reasoning_tokens")
        return {
            "input_tokens": totals["input"],
            "input_tokens_details": {"cached_tokens": totals["cached"]},
            "output_tokens": totals["output"],
            "output_tokens_details": {"reasoning_tokens": totals["reasoning"]},
            "total_tokens": totals["input"] + totals["output"],
        }

    def _output_files(self, batch: SimBatch, done: int) -> dict[str, str | None]:
        """The batch's output and error files, made once when it ended."""
        made = batch.extra.get("files")
        if isinstance(made, dict):
            return made
        outputs: list[bytes] = []
        failures: list[bytes] = []
        for index, (custom_id, answer) in enumerate(
            zip(batch.custom_ids, batch.answers, strict=True)
        ):
            outcome = self.clock.outcome(batch, index, done)
            line: dict[str, object] = {
                "id": "batch_req_" + uuid.uuid4().hex[:24],
                "custom_id": custom_id,
            }
            if outcome in ("succeeded", "errored"):
                line["response"] = {
                    "status_code": answer.status,
                    "request_id": "req_" + uuid.uuid4().hex,
                    "body": orjson.Fragment(answer.body),
                }
                line["error"] = None
            else:
                code = "batch_expired" if outcome == "expired" else "batch_cancelled"
                line["response"] = None
                line["error"] = {"code": code, "message": f"The request was not run ({outcome})."}
            (outputs if outcome == "succeeded" else failures).append(orjson.dumps(line))
        files: dict[str, str | None] = {"output_file_id": None, "error_file_id": None}
        if outputs:
            out = self._add_file(
                f"{batch.id}_output.jsonl", "batch_output", b"\n".join(outputs) + b"\n"
            )
            files["output_file_id"] = out.id
        if failures:
            err = self._add_file(
                f"{batch.id}_error.jsonl", "batch_output", b"\n".join(failures) + b"\n"
            )
            files["error_file_id"] = err.id
        batch.extra["files"] = files
        return files
