"""Response ids that are path segments in disguise: ``..`` and ``.`` (sent encoded, as
``%2e%2e``, so the client does not resolve them) passed the id check and were forwarded as
``/responses/..``, which the HTTP client resolves to the provider's base URL: a request to
another path of the provider's API (the simulator answered a plain ``Not Found`` and, for
``.``, a ``307`` redirect).  An id must start with a letter or digit; nothing reaches the
provider, and the library refuses the same ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Gateway, make_settings, running_gateway
from thrifty.errors import BadRequest
from thrifty.runtime import Thrifty

DOT_IDS = ("%2e%2e", "%2E", "%2e", ".%2e", "..%2e", "...", ".hidden", "-x", ":x", "_x")
ROUTES = (("GET", ""), ("DELETE", ""), ("POST", "/cancel"), ("GET", "/input_items"))


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(make_settings(tmp_path)) as running:
        yield running


async def sim_requests(gw: Gateway) -> int:
    assert gw.thrifty.simulator_url is not None
    async with httpx.AsyncClient() as http:
        stats: dict[str, Any] = (await http.get(gw.thrifty.simulator_url + "/_sim/stats")).json()
    return int(stats["requests"])


async def test_dot_segment_ids_never_reach_the_provider(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        await http.get("/v1/models")  # starts the runtime (and the simulator)
        before = await sim_requests(gateway)
        for response_id in DOT_IDS:
            for method, suffix in ROUTES:
                answer = await http.request(method, f"/v1/responses/{response_id}{suffix}")
                assert answer.status_code == 400, (response_id, method, suffix, answer.text)
                error = answer.json()["error"]
                assert error["message"].startswith("a response id is 1-128 characters")
    assert await sim_requests(gateway) == before
    assert gateway.rows() == []


async def test_the_library_refuses_them_too(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with Thrifty(settings, environ={}) as thrifty:
        for response_id in ("..", ".", "...", ".x", "-x"):
            with pytest.raises(BadRequest, match="response id"):
                await thrifty.retrieve_response(response_id)
            with pytest.raises(BadRequest, match="response id"):
                await thrifty.cancel_response(response_id)
