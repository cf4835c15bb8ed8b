"""The providers' batch endpoints as thrifty calls them: errors are typed, keys never
appear in them, and results files are read line by line in both formats."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web

from thrifty.batch.upstream import (
    AnthropicBatchAPI,
    BatchUpstreamError,
    OpenAIBatchAPI,
    RemoteJob,
)
from thrifty.providers import HttpPool

KEY = "sk-test-0123456789abcdefghijklmnop"


@pytest.fixture
async def echo_url() -> AsyncIterator[str]:
    """A provider that fails every call, echoing the key it was sent (as some do)."""

    async def fail(request: web.Request) -> web.Response:
        sent = request.headers.get("authorization") or request.headers.get("x-api-key") or ""
        return web.Response(status=401, text=f'{{"error": "bad key {sent}"}}')

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fail)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_errors_are_typed_and_never_carry_the_key(echo_url: str) -> None:
    pool = HttpPool()
    try:
        for api in (
            OpenAIBatchAPI(pool, echo_url + "/v1", KEY, "openai"),
            AnthropicBatchAPI(pool, echo_url, KEY, "anthropic"),
        ):
            with pytest.raises(BatchUpstreamError) as caught:
                await api.create("job_1", "file-1", [("t1", b"{}")])
            assert caught.value.status == 401 and KEY not in caught.value.message
            assert "[redacted]" in caught.value.message
    finally:
        await pool.aclose()


async def test_unreachable_provider_is_a_502() -> None:
    pool = HttpPool()
    try:
        api = OpenAIBatchAPI(pool, "http://127.0.0.1:9/v1", None, "openai")
        with pytest.raises(BatchUpstreamError) as caught:
            await api.retrieve("batch_1")
        assert caught.value.status == 502
    finally:
        await pool.aclose()


def test_result_lines_of_both_formats() -> None:
    from thrifty.batch.upstream import _anthropic_line, _openai_line

    ok = _openai_line(
        orjson.dumps({"custom_id": "a", "response": {"status_code": 200, "body": {"x": 1}}})
    )
    assert (ok.kind, ok.status, orjson.loads(ok.body or b"")) == ("succeeded", 200, {"x": 1})
    expired = _openai_line(
        orjson.dumps({"custom_id": "b", "response": None, "error": {"code": "batch_expired"}})
    )
    assert expired.kind == "expired"
    other = _openai_line(orjson.dumps({"custom_id": "c", "error": {"code": "weird"}}))
    assert other.kind == "errored"
    errored = _anthropic_line(
        orjson.dumps(
            {
                "custom_id": "d",
                "result": {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": "rate_limit_error"}},
                },
            }
        )
    )
    assert (errored.kind, errored.status) == ("errored", 429)
    canceled = _anthropic_line(orjson.dumps({"custom_id": "e", "result": {"type": "canceled"}}))
    assert canceled.kind == "cancelled"
    assert RemoteJob("r", "ended", True, {}).ended
