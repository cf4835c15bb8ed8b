"""Apps that call the Batch APIs themselves, through the gateway: their calls are forwarded
to the provider as they are, and each result line they fetch is booked.

* OpenAI: ``/v1/files`` and ``/v1/batches`` go to the first OpenAI-dialect provider; when
  an app downloads a file (``GET /v1/files/{id}/content``) that is a batch output, every
  line that holds an answer (``response.status_code`` 200 with usage) is booked at batch
  rates;
* Anthropic: ``/v1/messages/batches`` goes to the first Anthropic-dialect provider; its
  ``results_url`` is rewritten to the gateway's own, and every ``succeeded`` line of
  ``GET .../results`` is booked.

A line's ledger row has request id ``batch-pt-`` plus a hash of (file or batch id,
custom id): fetching the same results again books nothing twice.  Error lines are not
booked (providers bill only answers; thrifty never saw the requests).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

import orjson

from thrifty.batch.booking import Booker, tier_of, usage_of
from thrifty.providers.finish import truncated_answer
from thrifty.types import JSON, ChatRequest, ChatResponse, Dialect, Step

ENDPOINT = "batch-passthrough"


def request_id(source: str, custom_id: str) -> str:
    digest = hashlib.sha256(orjson.dumps([source, custom_id])).hexdigest()[:32]
    return f"batch-pt-{digest}"


def _answers(dialect: Dialect, content: bytes) -> Iterable[tuple[str, JSON]]:
    """(custom id, answer body) of each line of ``content`` that holds an answer."""
    for raw in content.splitlines():
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return  # not a batch results file: nothing to book
        if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
            return
        if dialect == "openai":
            response = line.get("response")
            ok = isinstance(response, dict) and response.get("status_code") == 200
            body = response.get("body") if ok and isinstance(response, dict) else None
        else:
            result = line.get("result")
            ok = isinstance(result, dict) and result.get("type") == "succeeded"
            body = result.get("message") if ok and isinstance(result, dict) else None
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            yield line["custom_id"], body


async def book_results(
    booker: Booker,
    dialect: Dialect,
    provider: str,
    source: str,
    content: bytes,
    *,
    tenant: str | None,
) -> int:
    """Book each answer in a fetched results file; how many lines held one."""
    booked = 0
    for custom_id, body in _answers(dialect, content):
        usage = usage_of(dialect, body)
        model = str(body["model"])
        request = ChatRequest(
            dialect=dialect,
            body={"model": model},
            model=model,
            requested_model=model,
            tenant=tenant,
            endpoint=ENDPOINT,
            request_id=request_id(source, custom_id),
            received_at=time.time(),
        )
        response = ChatResponse(
            dialect=dialect,
            model=model,
            provider=provider,
            served=request,
            body=body,
            batch=True,
            usage_reported=usage is not None,
            service_tier=tier_of(dialect, body),
            truncated=truncated_answer(dialect, "chat", body),
        )
        if usage is not None:
            response.usage = usage
        response.steps.append(Step("batch", f"batch pass-through: {source}"))
        await booker.book_answer(request, response)
        booked += 1
    return booked


def rewrite_results_url(body: bytes, gateway_base: str) -> bytes:
    """An Anthropic batch (or a list of them) with ``results_url`` pointing at the
    gateway, so that the SDK fetches results through it."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(parsed, dict):
        return body
    listed = parsed.get("data")
    batches: list[object] = listed if isinstance(listed, list) else [parsed]
    for batch in batches:
        if isinstance(batch, dict) and batch.get("results_url") and batch.get("id"):
            batch["results_url"] = f"{gateway_base}/v1/messages/batches/{batch['id']}/results"
    return orjson.dumps(parsed)
