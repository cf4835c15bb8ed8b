"""Who may spend the provider keys: gateway keys (401 without one), and on loopback without
keys the Host / Origin checks (403) and the JSON Content-Type (415), through real HTTP."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings
from thrifty.gateway import create_app
from thrifty.gateway.app import Gateway as GatewayApp
from thrifty.gateway.keys import KeyStore, hash_key, keys_path
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
MESSAGES = {
    "model": "claude-haiku-4-5",
    "max_tokens": 32,
    "messages": [{"role": "user", "content": "x"}],
}


@asynccontextmanager
async def running(tmp_path: Path, **extra: Any) -> AsyncIterator[Gateway]:
    thrifty = Thrifty(make_settings(tmp_path, **extra), environ={})
    server = await start_server(create_app(thrifty))
    try:
        yield Gateway(url=server.url, thrifty=thrifty, server=server)
    finally:
        await server.stop()


def store(tmp_path: Path, **extra: Any) -> KeyStore:
    return KeyStore(keys_path(make_settings(tmp_path, **extra)))


async def upstream_calls(gw: Gateway) -> int:
    assert gw.thrifty.simulator_url is not None
    async with httpx.AsyncClient() as http:
        stats = (await http.get(gw.thrifty.simulator_url + "/_sim/stats")).json()
    return int(stats["requests"])


def openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


def anthropic_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    return dict(body["error"])


# -- gateway keys ---------------------------------------------------------------------------


async def test_with_a_key_requests_without_a_valid_one_get_401_in_their_dialect(
    tmp_path: Path,
) -> None:
    _, key = store(tmp_path).create("acme")
    async with running(tmp_path) as gw, httpx.AsyncClient(base_url=gw.url) as http:
        before = await upstream_calls(gw)
        none = await http.post(OPENAI, json=CHAT)
        assert openai_error(none, 401)["code"] == "invalid_api_key"
        wrong = await http.post(OPENAI, json=CHAT, headers={"authorization": "Bearer thr-nope"})
        assert openai_error(wrong, 401)["type"] == "authentication_error"
        an = await http.post(
            ANTHROPIC, json=MESSAGES, headers={"x-api-key": key[:-1], "anthropic-version": "x"}
        )
        assert anthropic_error(an, 401)["type"] == "authentication_error"
        # Unknown routes are refused before routing too (no route probing without a key).
        assert (await http.get("/v1/nothing")).status_code == 401
        assert (await http.get("/v1/models")).status_code == 401
        # Liveness probes need no key.
        assert (await http.get("/health")).status_code == 200
        assert await upstream_calls(gw) == before
        assert gw.rows() == []  # refusals are counted in the log, not booked


async def test_the_key_names_the_tenant_in_the_ledger(tmp_path: Path) -> None:
    keys = store(tmp_path)
    _, acme = keys.create("acme")
    _, globex = keys.create("globex")
    async with running(tmp_path) as gw, httpx.AsyncClient(base_url=gw.url) as http:
        a = await http.post(OPENAI, json=CHAT, headers={"authorization": f"Bearer {acme}"})
        assert a.status_code == 200, a.text
        # A tenant header cannot book a request under another tenant than its key's.
        g = await http.post(
            ANTHROPIC,
            json=MESSAGES,
            headers={"x-api-key": globex, "x-thrifty-tenant": "acme", "anthropic-version": "x"},
        )
        assert g.status_code == 200, g.text
        assert [r.tenant for r in gw.rows()] == ["acme", "globex"]


async def test_sdks_send_the_key_as_their_usual_api_key(tmp_path: Path) -> None:
    _, key = store(tmp_path).create("sdk-app")
    async with running(tmp_path) as gw:
        oa = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
        an = anthropic.AsyncAnthropic(base_url=gw.url, api_key=key, max_retries=0)
        async with oa, an:
            chat = await oa.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            assert chat.choices[0].message.content
            message = await an.messages.create(
                model="claude-haiku-4-5",
                max_tokens=32,
                messages=[{"role": "user", "content": "hi"}],
            )
            assert message.content
            bad = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key="sk-other", max_retries=0)
            async with bad:
                with pytest.raises(openai.AuthenticationError):
                    await bad.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                    )
        assert [r.tenant for r in gw.rows()] == ["sdk-app", "sdk-app"]


async def _eventually(check: Any, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "the running gateway did not notice the change"
        await asyncio.sleep(0.1)


async def test_keys_created_and_revoked_while_running_take_effect(tmp_path: Path) -> None:
    keys = store(tmp_path)
    async with running(tmp_path) as gw, httpx.AsyncClient(base_url=gw.url) as http:
        assert (await http.post(OPENAI, json=CHAT)).status_code == 200  # no keys yet
        info, key = keys.create("late")
        auth = {"authorization": f"Bearer {key}"}

        async def keyless_refused() -> bool:
            return (await http.post(OPENAI, json=CHAT)).status_code == 401

        await _eventually(keyless_refused)
        assert (await http.post(OPENAI, json=CHAT, headers=auth)).status_code == 200
        keys.revoke(info.id)

        async def key_refused() -> bool:
            return (await http.post(OPENAI, json=CHAT, headers=auth)).status_code == 401

        await _eventually(key_refused)
        # Revoking the last key does not reopen the gateway.
        assert (await http.post(OPENAI, json=CHAT)).status_code == 401


async def test_require_auth_without_keys_refuses_everything(tmp_path: Path) -> None:
    async with (
        running(tmp_path, gateway={"require_auth": True}) as gw,
        httpx.AsyncClient(base_url=gw.url) as http,
    ):
        response = await http.post(OPENAI, json=CHAT, headers={"authorization": "Bearer sk-x"})
        assert "thrifty keys create" in openai_error(response, 401)["message"]


def test_the_store_holds_hashes_only(tmp_path: Path) -> None:
    keys = store(tmp_path)
    info, key = keys.create("acme")
    raw = keys.path.read_bytes()
    assert key.encode() not in raw
    assert hash_key(key).encode() in raw
    assert info.hint in key and len(info.hint) < 12


# -- loopback without keys: Host, Origin, Content-Type ----------------------------------------


async def test_the_browser_attack_from_the_issue_is_refused_and_never_reaches_upstream(
    gateway: Gateway,
) -> None:
    # curl -i 127.0.0.1:8787/v1/chat/completions -H 'Origin: http://evil.example'
    #   -H 'Host: attacker.example:8787' -H 'Content-Type: text/plain' --data '{...}'
    before = await upstream_calls(gateway)
    body = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}'
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        attack = await http.post(
            OPENAI,
            content=body,
            headers={
                "origin": "http://evil.example",
                "host": "attacker.example:8787",
                "content-type": "text/plain",
            },
        )
        assert openai_error(attack, 403)["code"] == "forbidden"
        assert "access-control-allow-origin" not in attack.headers
        # Each part alone is refused too.
        rebound = await http.post(OPENAI, json=CHAT, headers={"host": "attacker.example:8787"})
        assert openai_error(rebound, 403)["type"] == "permission_error"
        cross = await http.post(OPENAI, json=CHAT, headers={"origin": "http://evil.example"})
        assert openai_error(cross, 403)["code"] == "forbidden"
        null = await http.post(OPENAI, json=CHAT, headers={"origin": "null"})
        assert openai_error(null, 403)["code"] == "forbidden"
        plain = await http.post(OPENAI, content=body, headers={"content-type": "text/plain"})
        assert openai_error(plain, 415)["code"] == "unsupported_media_type"
        form = await http.post(
            ANTHROPIC,
            content=b"{}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert anthropic_error(form, 415)["type"] == "invalid_request_error"
        # No preflight is ever approved.
        preflight = await http.options(
            OPENAI,
            headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 403
        assert "access-control-allow-origin" not in preflight.headers
        assert await upstream_calls(gateway) == before
    # 403s are not booked; the 415s came from a loopback client and are booked as rejections.
    assert [r.status for r in gateway.rows()] == [415, 415]


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("127.0.0.1:8787", None),
        ("localhost", "http://localhost:3000"),
        ("LOCALHOST:1", "https://127.0.0.1"),
        ("[::1]:8787", "http://[::1]:5173"),
        (None, None),  # httpx's own Host (127.0.0.1:port)
    ],
)
async def test_loopback_hosts_and_origins_are_served(
    gateway: Gateway, host: str | None, origin: str | None
) -> None:
    headers = {"content-type": "application/json; charset=utf-8"}
    if host is not None:
        headers["host"] = host
    if origin is not None:
        headers["origin"] = origin
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(OPENAI, json=CHAT, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1.evil.example",
        "http://localhost@evil.example",
        "file://",
        "http://10.0.0.1",
    ],
)
async def test_lookalike_origins_are_refused(gateway: Gateway, origin: str) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        response = await http.post(OPENAI, json=CHAT, headers={"origin": origin})
    assert response.status_code == 403


# -- cost of the checks ---------------------------------------------------------------------


def _scope(key: str | None) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:8787"),
        (b"user-agent", b"OpenAI/Python 1.0"),
        (b"accept", b"application/json"),
        (b"content-type", b"application/json"),
        (b"content-length", b"120"),
        (b"x-stainless-lang", b"python"),
        (b"x-thrifty-task", b"summarize"),
    ]
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    return {"type": "http", "method": "POST", "path": OPENAI, "headers": headers}


def _p50_us(fn: Any, runs: int = 5000) -> float:
    samples: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return statistics.median(samples)


@pytest.fixture
def app_with_key(tmp_path: Path) -> Iterator[tuple[GatewayApp, str]]:
    _, key = store(tmp_path).create("bench")
    yield create_app(Thrifty(make_settings(tmp_path), environ={})), key


def test_auth_and_checks_cost_well_under_a_tenth_of_a_millisecond(
    app_with_key: tuple[GatewayApp, str], tmp_path: Path
) -> None:
    app, key = app_with_key
    with_key = _scope(key)
    assert app.guard.check(with_key).tenant == "bench"
    keyed = _p50_us(lambda: app._as_tenant(with_key, app.guard.check(with_key).tenant or ""))
    keyless_app = create_app(Thrifty(make_settings(tmp_path / "other"), environ={}))
    without = _scope(None)
    assert keyless_app.guard.check(without).error is None
    keyless = _p50_us(lambda: keyless_app.guard.check(without))
    assert keyed < 100.0, f"p50 {keyed:.1f} us with a key"
    assert keyless < 100.0, f"p50 {keyless:.1f} us without keys"
