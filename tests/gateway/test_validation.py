"""Input checks on the chat routes (issue 6, sections 2 and 3): every bad input is a 400 in
the endpoint's dialect, booked as a rejected request with bounded fields, and costs no
upstream call; error answers carry the row's id; a client that leaves before a non-stream
answer cancels the call and is booked as 499."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.gateway.conftest import Gateway, make_settings
from thrifty.gateway import create_app
from thrifty.gateway.chat import header_value
from thrifty.requests import chat_request
from thrifty.runtime import Thrifty
from thrifty.serving import start_server
from thrifty.sim import SimConfig
from thrifty.sim import create_app as create_sim_app

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
USER = [{"role": "user", "content": "x"}]


def openai_error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    return dict(error)


def anthropic_error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    return dict(body["error"])


class Recorder:
    """ASGI middleware in front of the simulator: the headers of each call it received,
    and how many answers it finished."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[dict[str, str]] = []
        self.finished = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.seen.append({k.decode(): v.decode() for k, v in scope["headers"]})

        async def counting_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.finished += 1

        await self.app(scope, receive, counting_send)


@pytest.fixture
async def recorded(tmp_path: Path) -> Any:
    """A gateway whose two providers (OpenAI and Anthropic dialects) are one recorded
    simulator: ``(gateway url, thrifty, recorder)``."""
    recorder = Recorder(create_sim_app(SimConfig()))
    upstream = await start_server(recorder)
    settings = make_settings(
        tmp_path,
        simulate=False,
        anthropic_base_url=upstream.url,
        openai_base_url=upstream.url + "/v1",
    )
    env = {"ANTHROPIC_API_KEY": "a-key", "OPENAI_API_KEY": "o-key"}
    thrifty = Thrifty(settings, environ=env)
    gateway = await start_server(create_app(thrifty))
    try:
        yield gateway.url, thrifty, recorder
    finally:
        await gateway.stop()
        await upstream.stop()


# -- 1. model names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("gpt-é中", "printable ASCII"),
        ("gpt-4o\r\nx-evil: 1", "printable ASCII"),
        ("gpt 4o", "printable ASCII"),
        ("gpt-4o\x00", "printable ASCII"),
        ("m" * 257, "limit is 256"),
    ],
)
async def test_bad_model_names_are_400_without_an_upstream_call(
    recorded: Any, model: str, needle: str
) -> None:
    url, thrifty, recorder = recorded
    async with httpx.AsyncClient(base_url=url) as http:
        oa = await http.post(OPENAI, json={"model": model, "messages": USER})
        assert needle in openai_error(oa)["message"]
        an = await http.post(ANTHROPIC, json={"model": model, "max_tokens": 5, "messages": USER})
        assert needle in anthropic_error(an)["message"]
        for response in (oa, an):
            assert response.headers["x-thrifty-request-id"]
            assert "x-thrifty-model" not in response.headers
    assert recorder.seen == []  # nothing paid
    rows = thrifty.ledger.rows()
    assert [r.status for r in rows] == [400, 400]
    assert [r.request_id for r in rows] == [
        oa.headers["x-thrifty-request-id"],
        an.headers["x-thrifty-request-id"],
    ]
    for row in rows:
        assert row.failure == "request" and row.error and needle in row.error
        assert row.requested_model is not None and len(row.requested_model) <= 256
        assert row.requested_model.isascii() and row.requested_model.isprintable()


async def test_an_8mb_model_name_is_neither_stored_nor_echoed(gateway: Gateway) -> None:
    huge = "m" * 8_000_000  # just under the body limit
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(OPENAI, json={"model": huge, "messages": USER})
    assert len(response.content) < 1000
    assert "limit is 256" in openai_error(response)["message"]
    [row] = gateway.rows()
    assert row.status == 400
    assert row.requested_model is not None and len(row.requested_model) <= 256
    assert row.error is not None and len(row.error) < 1000


def test_header_values_are_percent_encoded_when_not_printable_ascii() -> None:
    assert header_value("gpt-4o") == b"gpt-4o"
    assert header_value("gpt-é中") == b"gpt-%C3%A9%E4%B8%AD"
    assert header_value("a\r\nb") == b"a%0D%0Ab"
    assert header_value("50%é") == b"50%25%C3%A9"
    assert unquote(header_value("gpt-é中").decode()) == "gpt-é中"


async def non_ascii_upstream(scope: Scope, receive: Receive, send: Send) -> None:
    """An OpenAI-compatible upstream that reports a model name that is not ASCII."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    payload = (
        b'{"id":"c1","object":"chat.completion","created":1,"model":"gpt-\xc3\xa9\xe4\xb8\xad",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},'
        b'"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}'
    )
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def test_a_non_ascii_model_name_reported_upstream_is_encoded(tmp_path: Path) -> None:
    """The upstream may report any model name: the x-thrifty-model header stays valid."""
    upstream = await start_server(non_ascii_upstream)
    settings = make_settings(tmp_path, simulate=False, openai_base_url=upstream.url + "/v1")
    thrifty = Thrifty(settings, environ={"OPENAI_API_KEY": "o-key"})
    gateway = await start_server(create_app(thrifty))
    try:
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            response = await http.post(OPENAI, json={"model": "gpt-4o-mini", "messages": USER})
        assert response.status_code == 200, response.text
        assert response.headers["x-thrifty-model"] == "gpt-%C3%A9%E4%B8%AD"
        assert response.json()["model"] == "gpt-é中"
        [row] = thrifty.ledger.rows()
        assert row.status == 200
    finally:
        await gateway.stop()
        await upstream.stop()


# -- 2. task and tenant headers ----------------------------------------------------------


@pytest.mark.parametrize("header", ["x-thrifty-task", "x-thrifty-tenant"])
@pytest.mark.parametrize("value", ["t" * 65, "has space", "semi;colon", "é", "t" * 60_000])
async def test_task_and_tenant_headers_are_short_labels(
    gateway: Gateway, header: str, value: str
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(
            OPENAI,
            json={"model": "gpt-4o", "messages": USER},
            headers={header.encode(): value.encode("utf-8")},
        )
    error = openai_error(response)
    assert header in error["message"] and "64" in error["message"]
    assert len(response.content) < 1000
    [row] = gateway.rows()
    assert row.status == 400 and row.failure == "request"
    assert row.task is None and (row.tenant is None or len(row.tenant) <= 64)


@pytest.mark.parametrize("header", ["x-thrifty-task", "x-thrifty-tenant"])
async def test_an_8_mb_header_is_refused_by_the_server_and_never_stored(
    gateway: Gateway, header: str
) -> None:
    """A header block past 64 KiB never reaches the app: 431, or the connection closed
    while the client is still sending; nothing is booked or stored."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        try:
            response = await http.post(
                OPENAI,
                json={"model": "gpt-4o", "messages": USER},
                headers={header: "t" * 8_000_000},
            )
        except httpx.TransportError:
            pass
        else:
            assert response.status_code == 431
    assert gateway.rows() == []


async def test_good_labels_and_body_task_are_checked_too(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        ok = await http.post(
            OPENAI,
            json={"model": "gpt-4o", "messages": USER},
            headers={"x-thrifty-task": "summarize", "x-thrifty-tenant": "team-a:prod.1_x"},
        )
        assert ok.status_code == 200
        bad = await http.post(
            OPENAI,
            json={"model": "gpt-4o", "messages": USER, "metadata": {"thrifty_task": "a b"}},
        )
        assert "thrifty_task" in openai_error(bad)["message"]
    rows = gateway.rows()
    assert (rows[0].status, rows[0].tenant) == (200, "team-a:prod.1_x")
    assert rows[1].status == 400


# -- 3. deep nesting -----------------------------------------------------------------------


DEEP = "deep-placeholder"


def _with_deep(body: Any, depth: int = 1000) -> bytes:
    """``body`` as JSON with ``DEEP`` replaced by a list nested ``depth`` deep (more than
    Python's recursion limit, less than the JSON parser's)."""
    return orjson.dumps(body).replace(
        b'"' + DEEP.encode() + b'"', b"[" * depth + b'"x"' + b"]" * depth
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            OPENAI,  # an OpenAI request for an Anthropic model
            {
                "model": "claude-sonnet-4-6",
                "messages": [{"role": "user", "content": [{"type": "text", "text": DEEP}]}],
            },
        ),
        (
            ANTHROPIC,  # an Anthropic request for an OpenAI model
            {
                "model": "gpt-4o",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "text", "text": DEEP}]}],
            },
        ),
        (
            OPENAI,
            {
                "model": "claude-sonnet-4-6",
                "messages": USER,
                "tools": [{"type": "function", "function": {"name": "f", "parameters": DEEP}}],
            },
        ),
    ],
)
async def test_deeply_nested_cross_dialect_content_is_400(
    gateway: Gateway, path: str, body: Any
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(
            path, content=_with_deep(body), headers={"content-type": "application/json"}
        )
        check = openai_error if path == OPENAI else anthropic_error
        check(response)
        assert response.headers["x-thrifty-request-id"]
    [row] = gateway.rows()
    assert row.status == 400 and row.request_id == response.headers["x-thrifty-request-id"]


# -- 4. same-dialect shape checks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"messages": [{"role": "usr", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "txt", "text": "x"}]}]},
            "messages[0].content[0].type",
        ),
        ({"messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content[0].type"),
        ({"messages": USER, "max_tokens": 0}, "'max_tokens'"),
        ({"messages": USER, "max_tokens": -5}, "'max_tokens'"),
        ({"messages": USER, "max_tokens": 1.5}, "'max_tokens'"),
        ({"messages": USER, "max_completion_tokens": 0}, "'max_completion_tokens'"),
        ({"messages": USER, "n": 0}, "'n'"),
    ],
)
async def test_openai_same_dialect_shape_errors_are_local(
    recorded: Any, body: dict[str, Any], needle: str
) -> None:
    url, thrifty, recorder = recorded
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(OPENAI, json={"model": "gpt-4o-mini", **body})
    assert needle in openai_error(response)["message"]
    assert recorder.seen == []
    [row] = thrifty.ledger.rows()
    assert row.status == 400 and row.failure == "request"


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        ([{"role": "system", "content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": [{"type": "txt", "text": "x"}]}], "content[0].type"),
        ([{"role": "user", "content": {"type": "text"}}], "messages[0].content"),
        ([{"role": "user", "content": None}], "messages[0].content"),
    ],
)
async def test_anthropic_same_dialect_shape_errors_are_local(
    recorded: Any, messages: list[Any], needle: str
) -> None:
    url, thrifty, recorder = recorded
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            ANTHROPIC, json={"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": messages}
        )
    assert needle in anthropic_error(response)["message"]
    assert recorder.seen == []
    [row] = thrifty.ledger.rows()
    assert row.status == 400


async def test_valid_content_shapes_still_pass(recorded: Any) -> None:
    url, _, recorder = recorded
    async with httpx.AsyncClient(base_url=url) as http:
        oa = await http.post(
            OPENAI,
            json={
                "model": "gpt-4o-mini",
                "max_tokens": 5,
                "messages": [
                    {"role": "developer", "content": "be brief"},
                    {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                    {"role": "assistant", "content": None, "tool_calls": []},
                    {"role": "user", "content": "again"},
                ],
            },
        )
        assert oa.status_code == 200, oa.text
        an = await http.post(
            ANTHROPIC,
            json={
                "model": "claude-sonnet-4-6",
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                    {"role": "assistant", "content": [{"type": "web_search_tool_result"}]},
                    {"role": "user", "content": "again"},
                ],
            },
        )
        assert an.status_code == 200, an.text
    assert len(recorder.seen) == 2


def test_the_new_checks_cost_well_under_a_tenth_of_a_millisecond() -> None:
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 200,
        "metadata": {"thrifty_task": "summarize"},
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            *(
                {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"}
                for i in range(10)
            ),
            {"role": "user", "content": [{"type": "text", "text": "now"}]},
        ],
    }
    samples = []
    for _ in range(2000):
        started = time.perf_counter()
        chat_request("openai", body, task="summarize", tenant="team-a")
        samples.append(time.perf_counter() - started)
    # The whole request build (old checks included), p50: far below the 0.1 ms budget.
    assert statistics.median(samples) < 100e-6


# -- 5. request id on errors ---------------------------------------------------------------


async def test_pipeline_errors_carry_the_request_id(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(OPENAI, json={"model": "no-such-model", "messages": USER})
    assert response.status_code == 404
    [row] = gateway.rows()
    assert response.headers["x-thrifty-request-id"] == row.request_id


# -- 6. beta headers go to their own API -------------------------------------------------------


async def test_each_beta_header_goes_to_its_own_provider(recorded: Any) -> None:
    url, _, recorder = recorded
    betas = {"anthropic-beta": "a-beta-1", "openai-beta": "assistants=v2"}
    async with httpx.AsyncClient(base_url=url) as http:
        for model in ("claude-sonnet-4-6", "gpt-4o-mini"):
            response = await http.post(
                OPENAI, json={"model": model, "max_tokens": 5, "messages": USER}, headers=betas
            )
            assert response.status_code == 200, response.text
    to_anthropic, to_openai = recorder.seen
    assert to_anthropic["anthropic-beta"] == "a-beta-1" and "openai-beta" not in to_anthropic
    assert to_openai["openai-beta"] == "assistants=v2" and "anthropic-beta" not in to_openai


# -- 7. a client that leaves before a non-stream answer --------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_client_leaving_before_the_answer_cancels_and_books_499(
    tmp_path: Path, stream: bool
) -> None:
    recorder = Recorder(create_sim_app(SimConfig()))
    upstream = await start_server(recorder)
    settings = make_settings(tmp_path, simulate=False, openai_base_url=upstream.url + "/v1")
    thrifty = Thrifty(settings, environ={"OPENAI_API_KEY": "o-key"})
    gateway = await start_server(create_app(thrifty))
    body = {
        "model": "gpt-4o-mini",
        "stream": stream,  # a stream: the client leaves before the upstream's headers
        "messages": [{"role": "user", "content": "slow please [[sim:latency=3000]]"}],
    }
    try:
        started = time.perf_counter()
        async with httpx.AsyncClient(base_url=gateway.url, timeout=0.5) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post(OPENAI, json=body)
        for _ in range(100):
            if thrifty.ledger.rows():
                break
            await asyncio.sleep(0.02)
        booked_after = time.perf_counter() - started
        [row] = thrifty.ledger.rows()
        assert row.status == 499 and row.failure == "client_left"
        assert row.error is not None and "disconnect" in row.error
        assert row.cost_usd is None  # the call reached the upstream: its cost is unknown
        assert booked_after < 2.5  # booked when the client left, not when the upstream ended
        assert len(recorder.seen) == 1
        await asyncio.sleep(3.0)
        assert recorder.finished == 0  # the upstream call was closed, not awaited
        # The gateway keeps serving.
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            ok = await http.post(OPENAI, json={"model": "gpt-4o-mini", "messages": USER})
        assert ok.status_code == 200
    finally:
        await gateway.stop()
        await upstream.stop()
