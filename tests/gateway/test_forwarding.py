"""What reaches the provider: beta feature headers are forwarded, the app's own key is not
(thrifty holds the provider keys)."""

from __future__ import annotations

from pathlib import Path

import anthropic
import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.gateway.conftest import make_settings
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import start_server
from thrifty.sim import SimConfig
from thrifty.sim import create_app as create_sim_app


class HeaderRecorder:
    """ASGI middleware in front of the simulator: remembers each request's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await self.app(scope, receive, send)


async def test_beta_headers_are_forwarded_and_the_app_key_is_not(tmp_path: Path) -> None:
    recorder = HeaderRecorder(create_sim_app(SimConfig()))
    upstream = await start_server(recorder)
    settings = make_settings(tmp_path, simulate=False, anthropic_base_url=upstream.url)
    thrifty = Thrifty(settings, environ={"ANTHROPIC_API_KEY": "provider-key"})
    gateway = await start_server(create_app(thrifty))
    try:
        async with anthropic.AsyncAnthropic(
            base_url=gateway.url, api_key="the-apps-own-key", max_retries=0
        ) as client:
            await client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=20,
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"anthropic-beta": "extended-cache-ttl-2025-04-11"},
            )
            await client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=20,
                messages=[{"role": "user", "content": "no beta this time"}],
            )
        async with httpx.AsyncClient(base_url=gateway.url) as http:  # a repeated header
            await http.post(
                "/v1/messages",
                json={
                    "model": "claude-sonnet-4-6",
                    "max_tokens": 5,
                    "messages": [{"role": "user", "content": "two betas"}],
                },
                headers=[("anthropic-beta", "a-1"), ("anthropic-beta", "b-2")],
            )
    finally:
        await gateway.stop()
        await upstream.stop()
    first, second, third = recorder.seen
    assert third["anthropic-beta"] == "a-1, b-2"
    assert first["anthropic-beta"] == "extended-cache-ttl-2025-04-11"
    assert "anthropic-beta" not in second  # per request, not sticky
    for seen in (first, second):
        assert seen["x-api-key"] == "provider-key"
        assert "the-apps-own-key" not in str(seen)
        assert seen["anthropic-version"] == "2023-06-01"
