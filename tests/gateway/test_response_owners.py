"""Tenant isolation of stored Responses API responses through the gateway, with the
official openai SDK against the simulator: one tenant's response id is an unknown id to
another on every side route and as ``previous_response_id``; unrecorded ids are allowed
without gateway keys and refused with them; an owner store that cannot be read fails
closed."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.gateway.conftest import make_settings
from thrifty.config import Settings
from thrifty.gateway import create_app
from thrifty.gateway.app import Gateway
from thrifty.gateway.keys import KeyStore, keys_path
from thrifty.gateway.response_owners import ResponseOwners, owners_path
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

MODEL = "gpt-4o-mini"


@dataclass
class Running:
    url: str
    app: Gateway
    thrifty: Thrifty
    clients: list[openai.AsyncOpenAI] = field(default_factory=list)

    @property
    def owners(self) -> ResponseOwners:
        return self.app.response_owners

    def client(self, key: str = "app-key", **headers: str) -> openai.AsyncOpenAI:
        made = openai.AsyncOpenAI(
            base_url=self.url + "/v1", api_key=key, max_retries=0, default_headers=headers
        )
        self.clients.append(made)
        return made

    async def upstream_calls(self) -> int:
        assert self.thrifty.simulator_url is not None
        async with httpx.AsyncClient() as http:
            stats = (await http.get(self.thrifty.simulator_url + "/_sim/stats")).json()
        calls: int = stats["requests"]
        return calls

    async def at_provider(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call straight to the provider (the simulator), past the gateway."""
        assert self.thrifty.simulator_url is not None
        async with httpx.AsyncClient(base_url=self.thrifty.simulator_url) as http:
            return await http.request(method, "/v1" + path, **kwargs)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Running]:
    thrifty = Thrifty(settings, environ={})
    app = create_app(thrifty)
    server = await start_server(app)
    gw = Running(url=server.url, app=app, thrifty=thrifty)
    try:
        yield gw
    finally:
        for client in gw.clients:
            await client.close()
        await server.stop()
        app.response_owners.close()


def two_keys(tmp_path: Path) -> tuple[str, str]:
    keys = KeyStore(keys_path(make_settings(tmp_path)))
    return keys.create("alpha")[1], keys.create("beta")[1]


async def not_found_everywhere(gw: Running, client: openai.AsyncOpenAI, rid: str) -> None:
    """``rid`` is unknown to ``client`` on all four side routes, with no provider call."""
    before = await gw.upstream_calls()
    with pytest.raises(openai.NotFoundError) as got:
        await client.responses.retrieve(rid)
    with pytest.raises(openai.NotFoundError):
        await client.responses.delete(rid)
    with pytest.raises(openai.NotFoundError):
        await client.responses.cancel(rid)
    with pytest.raises(openai.NotFoundError):
        await client.responses.input_items.list(rid)
    assert await gw.upstream_calls() == before
    # Exactly what the provider says of an id it does not hold (same length, same words).
    unknown = "resp_" + "0" * (len(rid) - 5)
    real = await gw.at_provider("GET", f"/responses/{unknown}")
    assert real.status_code == 404
    assert got.value.body == {
        key: value.replace(unknown, rid) if isinstance(value, str) else value
        for key, value in real.json()["error"].items()
    }
    assert got.value.response.headers["x-thrifty-provider"] == "openai"


async def test_another_tenants_response_is_unknown_on_every_side_route(tmp_path: Path) -> None:
    alpha_key, beta_key = two_keys(tmp_path)
    async with running(make_settings(tmp_path)) as gw:
        alpha, beta = gw.client(alpha_key), gw.client(beta_key)
        made = await alpha.responses.create(model=MODEL, input="Tell me about owls")
        assert gw.owners.owner_of(made.id) == "alpha"
        await not_found_everywhere(gw, beta, made.id)
        # The owner still has it all.
        assert (await alpha.responses.retrieve(made.id)).output_text == made.output_text
        items = await alpha.responses.input_items.list(made.id)
        assert [item.type for item in items.data] == ["message"]
        await alpha.responses.delete(made.id)
        assert gw.owners.owner_of(made.id) is None  # forgotten with the response
        with pytest.raises(openai.NotFoundError):  # keys on: now an unrecorded id
            await alpha.responses.retrieve(made.id)
        assert [row.tenant for row in gw.thrifty.ledger.rows()] == ["alpha"]


async def test_previous_response_id_of_another_tenant_is_refused_before_any_call(
    tmp_path: Path,
) -> None:
    alpha_key, beta_key = two_keys(tmp_path)
    async with running(make_settings(tmp_path)) as gw:
        alpha, beta = gw.client(alpha_key), gw.client(beta_key)
        first = await alpha.responses.create(model=MODEL, input="Tell me about owls")
        before = await gw.upstream_calls()
        with pytest.raises(openai.BadRequestError) as got:
            await beta.responses.create(
                model=MODEL, input="And cats?", previous_response_id=first.id
            )
        assert await gw.upstream_calls() == before
        assert got.value.body == {
            "message": f"Previous response with id '{first.id}' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
        # Streamed, the same refusal (before any stream starts).
        with pytest.raises(openai.BadRequestError, match="not found"):
            await beta.responses.create(
                model=MODEL, input="x", previous_response_id=first.id, stream=True
            )
        assert await gw.upstream_calls() == before
        refused = [row for row in gw.thrifty.ledger.rows() if row.tenant == "beta"]
        assert [(row.status, row.cost_usd) for row in refused] == [(400, Decimal(0))] * 2
        # The owner continues its own conversation.
        second = await alpha.responses.create(
            model=MODEL, input="And cats?", previous_response_id=first.id
        )
        assert second.previous_response_id == first.id
        assert gw.owners.owner_of(second.id) == "alpha"


async def test_streamed_and_background_responses_are_recorded(tmp_path: Path) -> None:
    alpha_key, beta_key = two_keys(tmp_path)
    async with running(make_settings(tmp_path)) as gw:
        alpha, beta = gw.client(alpha_key), gw.client(beta_key)
        async with alpha.responses.stream(model=MODEL, input="Tell me a story") as stream:
            async for _ in stream:
                pass
            streamed = await stream.get_final_response()
        assert gw.owners.owner_of(streamed.id) == "alpha"
        await not_found_everywhere(gw, beta, streamed.id)
        assert (await alpha.responses.retrieve(streamed.id)).id == streamed.id

        job = await alpha.responses.create(
            model=MODEL, input="[[sim:latency=600000]] Long job", background=True
        )
        assert gw.owners.owner_of(job.id) == "alpha"
        with pytest.raises(openai.NotFoundError):
            await beta.responses.cancel(job.id)
        assert (await alpha.responses.cancel(job.id)).status == "cancelled"


async def test_unstored_responses_are_not_recorded(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path)) as gw, gw.client() as app:
        kept = await app.responses.create(model=MODEL, input="Say hello")
        await app.responses.create(model=MODEL, input="Say hello", store=False)
        async with app.responses.stream(model=MODEL, input="Hi", store=False) as stream:
            async for _ in stream:
                pass
        assert gw.owners.rows == 1 and gw.owners.owner_of(kept.id) is not None


async def made_at_provider(gw: Running) -> str:
    """A stored response the gateway never saw (made at the provider directly)."""
    made = await gw.at_provider(
        "POST",
        "/responses",
        json={"model": MODEL, "input": "Made elsewhere"},
        headers={"authorization": "Bearer sk-direct"},
    )
    assert made.status_code == 200
    rid: str = made.json()["id"]
    return rid


async def test_without_keys_unrecorded_ids_are_allowed_and_tenants_still_apart(
    tmp_path: Path,
) -> None:
    async with running(make_settings(tmp_path)) as gw:
        elsewhere = await made_at_provider(gw)
        async with gw.client() as app:
            assert (await app.responses.retrieve(elsewhere)).id == elsewhere
            follow = await app.responses.create(
                model=MODEL, input="More", previous_response_id=elsewhere
            )
            assert follow.previous_response_id == elsewhere
        # Without keys the tenant is the app's own label (or its key's fingerprint): a
        # recorded id still belongs to the tenant that made it.
        async with gw.client(**{"x-thrifty-tenant": "team-a"}) as team_a:
            mine = await team_a.responses.create(model=MODEL, input="Hi")
        assert gw.owners.owner_of(mine.id) == "team-a"
        async with gw.client(**{"x-thrifty-tenant": "team-b"}) as team_b:
            await not_found_everywhere(gw, team_b, mine.id)
        async with gw.client("another-key") as other_key:
            with pytest.raises(openai.NotFoundError):
                await other_key.responses.retrieve(mine.id)


async def test_with_keys_unrecorded_ids_are_refused(tmp_path: Path) -> None:
    alpha_key, _ = two_keys(tmp_path)
    async with running(make_settings(tmp_path)) as gw, gw.client(alpha_key) as alpha:
        elsewhere = await made_at_provider(gw)
        await not_found_everywhere(gw, alpha, elsewhere)
        with pytest.raises(openai.BadRequestError, match="Previous response with id"):
            await alpha.responses.create(model=MODEL, input="x", previous_response_id=elsewhere)
        with pytest.raises(openai.NotFoundError, match="Conversation with id"):
            await alpha.responses.create(model=MODEL, input="x", conversation="conv_123")


def break_store(gw: Running) -> None:
    """The owner file becomes unusable (a directory where the database was)."""
    gw.owners.close()
    path = gw.owners.path
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    path.mkdir()


async def test_an_owner_store_outage_fails_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(make_settings(tmp_path)) as gw, gw.client() as app:
        made = await app.responses.create(model=MODEL, input="Say hello")
        break_store(gw)
        before = await gw.upstream_calls()
        for call in (
            app.responses.retrieve(made.id),
            app.responses.delete(made.id),
            app.responses.cancel(made.id),
            app.responses.input_items.list(made.id),
        ):
            with pytest.raises(openai.InternalServerError) as got:
                await call
            assert got.value.status_code == 503
            assert got.value.body["type"] == "server_error"  # type: ignore[index]
            assert "try again later" in got.value.message
        with pytest.raises(openai.InternalServerError) as paid:
            await app.responses.create(model=MODEL, input="x", previous_response_id=made.id)
        assert paid.value.status_code == 503
        assert await gw.upstream_calls() == before
        assert gw.thrifty.ledger.rows()[-1].status == 503
        # A request that continues nothing does not need the store: it is served (its
        # own record is lost, and logged).
        caplog.clear()
        assert (await app.responses.create(model=MODEL, input="Hi")).output_text
        assert await gw.upstream_calls() == before + 1
        assert any("response owner not recorded" in r.getMessage() for r in caplog.records)


async def test_a_store_that_cannot_be_opened_fails_closed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    owners_path(settings).mkdir()
    async with running(settings) as gw, gw.client() as app:
        with pytest.raises(openai.InternalServerError):
            await app.responses.retrieve("resp_1")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_records_are_bounded_oldest_first(tmp_path: Path) -> None:
    clock = Clock()
    owners = ResponseOwners(tmp_path / "owners.db", max_rows=10, clock=clock)
    for number in range(11):
        clock.now += 1
        assert owners.record(f"resp_{number:02d}", "alpha")
    assert owners.rows == 9  # over the bound: down to 90%
    assert [owners.owner_of(f"resp_{n:02d}") for n in (0, 1)] == [None, None]
    assert owners.owner_of("resp_02") == "alpha" and owners.owner_of("resp_10") == "alpha"
    owners.close()
    reopened = ResponseOwners(tmp_path / "owners.db", max_rows=10, clock=clock)
    assert reopened.owner_of("resp_05") == "alpha" and reopened.rows == 9  # counted on open
    clock.now += 1
    reopened.record("resp_new", None)
    assert reopened.rows == 10 and reopened.owner_of("resp_new") == ""
    clock.now += 1
    reopened.record("resp_newer", None)
    assert reopened.rows == 9 and reopened.owner_of("resp_02") is None
    reopened.close()
    if os.name == "posix":
        assert stat.S_IMODE((tmp_path / "owners.db").stat().st_mode) == 0o600


def test_records_expire_and_an_owner_is_never_replaced(tmp_path: Path) -> None:
    clock = Clock()
    owners = ResponseOwners(tmp_path / "owners.db", ttl_s=100.0, clock=clock)
    assert owners.record("resp_a", "alpha")
    assert not owners.record("resp_a", "beta")  # first owner kept
    assert owners.may_use("resp_a", "alpha", keys_on=True)
    assert not owners.may_use("resp_a", "beta", keys_on=False)
    assert not owners.may_use("resp_a", None, keys_on=False)
    clock.now += 101
    assert owners.owner_of("resp_a") is None  # expired: as if unrecorded
    assert owners.may_use("resp_a", "beta", keys_on=False)
    assert not owners.may_use("resp_a", "alpha", keys_on=True)
    owners.close()


def test_out_of_bounds_values_are_not_recorded(tmp_path: Path) -> None:
    owners = ResponseOwners(tmp_path / "owners.db")
    assert not owners.record("r" * 129, "alpha")
    assert not owners.record("resp/../x", "alpha")
    assert not owners.record("resp_ok", "t" * 65)
    assert owners.record("resp_ok", "t" * 64) and owners.rows == 1
    with pytest.raises(ValueError):
        ResponseOwners(tmp_path / "x.db", max_rows=0)
    owners.close()
