"""Malformed requests get a 4xx in the endpoint's dialect, a ledger row, and the gateway
keeps serving."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Gateway

OPENAI = "/v1/chat/completions"
X = b'"messages": [{"role": "user", "content": "x"}]'
ANTHROPIC = "/v1/messages"


def assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert "type" in error and "code" in error
    return dict(error)


def assert_anthropic_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert isinstance(body["error"]["message"], str) and body["error"]["type"]
    return dict(body["error"])


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "'model'"),
        (b'{"model": "gpt-4o"}', "'messages'"),
        (b'{"model": 7, "messages": []}', "'model'"),
        (b'{"model": "gpt-4o", "messages": "hi"}', "array"),
        (b'{"model": "gpt-4o", "messages": []}', "empty"),
        (b'{"model": "gpt-4o", "messages": [3]}', "messages[0]"),
        (
            b'{"model": "gpt-4o", ' + X + b', "stream": "y"}',
            "'stream'",
        ),
        (
            b'{"model": "gpt-4o", ' + X + b', "max_tokens": "9"}',
            "'max_tokens'",
        ),
    ],
)
async def test_openai_malformed_bodies(gateway: Gateway, content: bytes, needle: str) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(
            OPENAI, content=content, headers={"content-type": "application/json"}
        )
        error = assert_openai_error(response, 400)
        assert needle in error["message"]
        assert error["type"] == "invalid_request_error"
        [row] = gateway.rows()
        assert row.status == 400 and row.error and needle in row.error
        ok = await http.post(
            OPENAI, json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        )
        assert ok.status_code == 200


async def test_anthropic_malformed_bodies_use_anthropic_shape(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        bad_json = await http.post(ANTHROPIC, content=b"{oops")
        assert assert_anthropic_error(bad_json, 400)["type"] == "invalid_request_error"
        no_max = await http.post(
            ANTHROPIC,
            json={"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "x"}]},
        )
        assert "max_tokens" in assert_anthropic_error(no_max, 400)["message"]
    assert [r.status for r in gateway.rows()] == [400, 400]


async def test_unknown_model_is_404_in_each_dialect(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        oa = await http.post(
            OPENAI, json={"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}
        )
        assert assert_openai_error(oa, 404)["code"] == "model_not_found"
        an = await http.post(
            ANTHROPIC,
            json={
                "model": "no-such-model",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
            },
        )
        assert assert_anthropic_error(an, 404)["type"] == "not_found_error"
    rows = gateway.rows()
    assert [r.status for r in rows] == [404, 404]
    assert all(r.requested_model == "no-such-model" for r in rows)


async def test_unknown_route_and_wrong_method(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        assert_openai_error(await http.get("/v1/nothing-here"), 404)
        assert_anthropic_error(
            await http.get(ANTHROPIC, headers={"anthropic-version": "2023-06-01"}), 405
        )
    assert gateway.rows() == []  # nothing was asked of a model: counted in the log only


async def test_oversized_body_is_413(gateway: Gateway) -> None:
    limit = gateway.thrifty.settings.gateway.max_body_bytes
    big = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + b"x" * limit + b'"}]}'
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(OPENAI, content=big)
        assert_openai_error(response, 413)

        async def chunks() -> Any:  # no content-length: the limit still holds
            for _ in range(limit // 65536 + 2):
                yield b"x" * 65536

        chunked = await http.post(OPENAI, content=chunks())
        assert_openai_error(chunked, 413)
    assert [r.status for r in gateway.rows()] == [413, 413]


async def test_wrong_shape_inside_a_translated_body_is_400(gateway: Gateway) -> None:
    body = {
        "model": "claude-sonnet-4-6",  # an OpenAI-style request routed to Anthropic
        "temperature": "hot",
        "messages": [{"role": "user", "content": "x"}],
    }
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(OPENAI, json=body)
    assert_openai_error(response, 400)
    [row] = gateway.rows()
    assert row.status == 400


async def test_tenant_fingerprint_ignores_the_auth_scheme_case(gateway: Gateway) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        for scheme in ("Bearer", "bearer", "BEARER"):
            ok = await http.post(OPENAI, json=body, headers={"authorization": f"{scheme} app-k"})
            assert ok.status_code == 200
    tenants = {row.tenant for row in gateway.rows()}
    assert len(tenants) == 1 and None not in tenants
