"""The providers' batch endpoints, as the poller uses them.

OpenAI: ``POST /files`` (the input JSONL, ``purpose=batch``), ``POST /batches`` (with
``metadata.thrifty_job``, so a restart finds a batch whose creation it did not record),
``GET /batches/{id}``, ``GET /batches`` (that search), ``GET /files/{id}/content`` (output
and error files), ``POST /batches/{id}/cancel``.  Anthropic: ``POST /v1/messages/batches``,
``GET .../{id}``, ``GET .../{id}/results``, ``GET /v1/messages/batches`` (a batch created
after the job's ``creating_at`` with as many requests, claimed by no other job),
``POST .../{id}/cancel``.

Every result line becomes a :class:`ResultLine` keyed by the custom id thrifty sent.  An
error status from the provider raises :class:`BatchUpstreamError` (keys never appear in
its message).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiohttp
import orjson

from thrifty.errors import UpstreamError, redact
from thrifty.providers import HttpPool
from thrifty.providers.anthropic import ANTHROPIC_VERSION
from thrifty.types import JSON

Kind = Literal["succeeded", "errored", "expired", "cancelled"]
TIMEOUT = aiohttp.ClientTimeout(total=600, sock_connect=10)
CLOCK_SKEW_S = 300.0  # how much earlier than creating_at a found Anthropic batch may be


class BatchUpstreamError(UpstreamError):
    """A batch endpoint answered with an error status, or could not be reached."""

    code = "batch_upstream_error"


@dataclass(frozen=True, slots=True)
class RemoteJob:
    remote_id: str
    status: str  # the provider's own word
    ended: bool
    output_refs: JSON  # where the results are, once ended


@dataclass(frozen=True, slots=True)
class ResultLine:
    custom_id: str
    kind: Kind
    status: int | None  # the HTTP status of a request that ran
    body: bytes | None  # its JSON body (an answer, or an error body)
    error: str | None = None


class BatchAPI(Protocol):
    async def upload(self, job_id: str, lines: Sequence[tuple[str, bytes]]) -> str | None: ...

    async def create(
        self, job_id: str, input_ref: str | None, lines: Sequence[tuple[str, bytes]]
    ) -> RemoteJob: ...

    async def find(
        self, job_id: str, creating_at: float, requests: int, claimed: set[str]
    ) -> RemoteJob | None: ...

    async def retrieve(self, remote_id: str) -> RemoteJob: ...

    async def results(self, job: RemoteJob) -> list[ResultLine]: ...

    async def cancel(self, remote_id: str) -> None: ...


class ProviderHttp:
    """One provider's base URL and key, for the batch endpoints (never logged)."""

    def __init__(
        self,
        pool: HttpPool,
        base_url: str,
        headers: dict[str, str],
        name: str,
        key: str | None = None,
    ) -> None:
        self._pool = pool
        self._key = key
        self._base = base_url.rstrip("/")
        self._headers = headers
        self.name = name

    async def call(
        self, method: str, path: str, *, body: bytes | None = None, form: Any = None
    ) -> bytes:
        """The response body of ``method path`` (an absolute URL is used as is)."""
        url = path if path.startswith("http") else self._base + path
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        session = self._pool.session()
        try:
            async with session.request(
                method,
                url,
                data=body if body is not None else form,
                headers=headers,
                timeout=TIMEOUT,
            ) as response:
                content = await response.read()
                if response.status >= 400:
                    text = redact(content[:300].decode("utf-8", "replace"), self._key)
                    raise BatchUpstreamError(
                        f"{self.name} {method} {path}: HTTP {response.status}: {text}",
                        status=response.status,
                        provider=self.name,
                    )
                return content
        except aiohttp.ClientError as exc:
            raise BatchUpstreamError(
                f"{self.name} {method} {path}: {type(exc).__name__}", status=502, provider=self.name
            ) from None

    async def raw(
        self, method: str, path: str, body: bytes | None, content_type: str | None
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) of a call forwarded as is (errors included)."""
        headers = dict(self._headers)
        if content_type:
            headers["Content-Type"] = content_type
        session = self._pool.session()
        try:
            async with session.request(
                method, self._base + path, data=body, headers=headers, timeout=TIMEOUT
            ) as response:
                kind = response.headers.get("Content-Type", "application/json")
                return response.status, kind, await response.read()
        except aiohttp.ClientError as exc:
            raise BatchUpstreamError(
                f"{self.name} {method} {path}: {type(exc).__name__}", status=502, provider=self.name
            ) from None

    async def json(self, method: str, path: str, **kw: Any) -> JSON:
        parsed = orjson.loads(await self.call(method, path, **kw))
        if not isinstance(parsed, dict):
            raise BatchUpstreamError(f"{self.name} {path}: not a JSON object", provider=self.name)
        return parsed


OPENAI_ENDED = {"completed", "failed", "expired", "cancelled"}


class OpenAIBatchAPI:
    def __init__(self, pool: HttpPool, base_url: str, api_key: str | None, name: str) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = ProviderHttp(pool, base_url, headers, name, api_key)

    @staticmethod
    def _job(batch: JSON) -> RemoteJob:
        status = str(batch.get("status"))
        refs = {
            "output_file_id": batch.get("output_file_id"),
            "error_file_id": batch.get("error_file_id"),
            "errors": batch.get("errors"),
        }
        return RemoteJob(str(batch["id"]), status, status in OPENAI_ENDED, refs)

    async def upload(self, job_id: str, lines: Sequence[tuple[str, bytes]]) -> str | None:
        content = b"".join(
            b'{"custom_id":"' + cid.encode() + b'","method":"POST","url":"/v1/chat/completions",'
            b'"body":' + body + b"}\n"
            for cid, body in lines
        )
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field(
            "file", content, filename=f"{job_id}.jsonl", content_type="application/jsonl"
        )
        uploaded = await self.http.json("POST", "/files", form=form)
        return str(uploaded["id"])

    async def create(
        self, job_id: str, input_ref: str | None, lines: Sequence[tuple[str, bytes]]
    ) -> RemoteJob:
        params = {
            "input_file_id": input_ref,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
            "metadata": {"thrifty_job": job_id},
        }
        return self._job(await self.http.json("POST", "/batches", body=orjson.dumps(params)))

    async def find(
        self, job_id: str, creating_at: float, requests: int, claimed: set[str]
    ) -> RemoteJob | None:
        after: str | None = None
        for _ in range(20):  # the newest 2,000 batches
            query = "/batches?limit=100" + (f"&after={after}" if after else "")
            page = await self.http.json("GET", query)
            for batch in page.get("data") or []:
                if (batch.get("metadata") or {}).get("thrifty_job") == job_id:
                    return self._job(batch)
                if float(batch.get("created_at") or 0) < creating_at - CLOCK_SKEW_S:
                    return None
            if not page.get("has_more") or not page.get("data"):
                return None
            after = str(page["data"][-1]["id"])
        return None

    async def retrieve(self, remote_id: str) -> RemoteJob:
        return self._job(await self.http.json("GET", f"/batches/{remote_id}"))

    async def results(self, job: RemoteJob) -> list[ResultLine]:
        lines: list[ResultLine] = []
        for ref in ("output_file_id", "error_file_id"):
            file_id = job.output_refs.get(ref)
            if not file_id:
                continue
            content = await self.http.call("GET", f"/files/{file_id}/content")
            lines.extend(_openai_line(raw) for raw in content.splitlines() if raw.strip())
        return lines

    async def cancel(self, remote_id: str) -> None:
        await self.http.call("POST", f"/batches/{remote_id}/cancel")


def _openai_line(raw: bytes) -> ResultLine:
    line = orjson.loads(raw)
    custom_id = str(line.get("custom_id"))
    response = line.get("response")
    if isinstance(response, dict):
        status = int(response.get("status_code") or 0)
        body = orjson.dumps(response.get("body"))
        return ResultLine(custom_id, "succeeded" if status == 200 else "errored", status, body)
    error = line.get("error") or {}
    code = str(error.get("code") or "")
    kind: Kind = "expired" if code == "batch_expired" else "cancelled"
    if code not in ("batch_expired", "batch_cancelled"):
        kind = "errored"
    return ResultLine(custom_id, kind, None, None, f"{code}: {error.get('message')}")


class AnthropicBatchAPI:
    def __init__(self, pool: HttpPool, base_url: str, api_key: str | None, name: str) -> None:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        self.http = ProviderHttp(pool, base_url, headers, name, api_key)

    @staticmethod
    def _job(batch: JSON) -> RemoteJob:
        status = str(batch.get("processing_status"))
        return RemoteJob(
            str(batch["id"]), status, status == "ended", {"results_url": batch.get("results_url")}
        )

    async def upload(self, job_id: str, lines: Sequence[tuple[str, bytes]]) -> str | None:
        return None  # the requests travel in the create call itself

    async def create(
        self, job_id: str, input_ref: str | None, lines: Sequence[tuple[str, bytes]]
    ) -> RemoteJob:
        payload = (
            b'{"requests":['
            + b",".join(
                b'{"custom_id":"' + cid.encode() + b'","params":' + body + b"}"
                for cid, body in lines
            )
            + b"]}"
        )
        return self._job(await self.http.json("POST", "/v1/messages/batches", body=payload))

    async def find(
        self, job_id: str, creating_at: float, requests: int, claimed: set[str]
    ) -> RemoteJob | None:
        page = await self.http.json("GET", "/v1/messages/batches?limit=100")
        for batch in page.get("data") or []:
            created = _epoch(batch.get("created_at"))
            counts = batch.get("request_counts") or {}
            total = sum(int(v) for v in counts.values() if isinstance(v, int))
            if (
                batch.get("id") not in claimed
                and created >= creating_at - CLOCK_SKEW_S
                and total == requests
            ):
                return self._job(batch)
        return None

    async def retrieve(self, remote_id: str) -> RemoteJob:
        return self._job(await self.http.json("GET", f"/v1/messages/batches/{remote_id}"))

    async def results(self, job: RemoteJob) -> list[ResultLine]:
        url = job.output_refs.get("results_url") or f"/v1/messages/batches/{job.remote_id}/results"
        content = await self.http.call("GET", str(url))
        return [_anthropic_line(raw) for raw in content.splitlines() if raw.strip()]

    async def cancel(self, remote_id: str) -> None:
        await self.http.call("POST", f"/v1/messages/batches/{remote_id}/cancel")


def _anthropic_line(raw: bytes) -> ResultLine:
    line = orjson.loads(raw)
    custom_id = str(line.get("custom_id"))
    result = line.get("result") or {}
    kind = result.get("type")
    if kind == "succeeded":
        return ResultLine(custom_id, "succeeded", 200, orjson.dumps(result.get("message")))
    if kind == "errored":
        error = result.get("error") or {}
        inner = error.get("error") or {}
        status = _ANTHROPIC_STATUS.get(str(inner.get("type")), 500)
        return ResultLine(
            custom_id, "errored", status, orjson.dumps(error), str(inner.get("message"))
        )
    return ResultLine(custom_id, "expired" if kind == "expired" else "cancelled", None, None, kind)


_ANTHROPIC_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def _epoch(stamp: object) -> float:
    if not isinstance(stamp, str):
        return 0.0
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
