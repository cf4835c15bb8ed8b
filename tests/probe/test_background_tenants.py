"""A background response retrieved at once by its owner and by another tenant (gateway
keys on): the other tenant gets the provider's words for an unknown id every time and
never books it; the owner's retrieves book it exactly once, under the owner's tenant.

Rates: gpt-4o-mini 0.15 in / 0.60 out per million tokens."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import openai

from tests.gateway.conftest import make_settings, running_gateway
from thrifty.gateway.keys import KeyStore, keys_path

M = Decimal(1_000_000)


async def test_two_tenants_racing_on_one_background_id(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    store = KeyStore(keys_path(settings))
    alpha_key, beta_key = store.create("alpha")[1], store.create("beta")[1]
    async with running_gateway(settings) as gw:
        alpha = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=alpha_key, max_retries=0)
        beta = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=beta_key, max_retries=0)
        async with alpha, beta:
            job = await alpha.responses.create(model="gpt-4o-mini", input="Quick", background=True)
            await asyncio.sleep(0.05)  # finished at the provider

            async def as_beta() -> int:
                try:
                    await beta.responses.retrieve(job.id)
                except openai.NotFoundError as exc:
                    assert "x-thrifty-cost-usd" not in exc.response.headers
                    return exc.status_code
                return 200

            outcomes = await asyncio.gather(
                *(alpha.responses.with_raw_response.retrieve(job.id) for _ in range(6)),
                *(as_beta() for _ in range(6)),
                *(alpha.responses.with_raw_response.cancel(job.id) for _ in range(2)),
                return_exceptions=True,
            )
        owners = [o for o in outcomes if not isinstance(o, (int, BaseException))]
        refused = [o for o in outcomes if isinstance(o, int)]
        cancels_refused = [o for o in outcomes if isinstance(o, openai.BadRequestError)]
        assert refused == [404] * 6 and len(owners) == 6 and len(cancels_refused) == 2
        booked = [o for o in owners if "x-thrifty-cost-usd" in o.headers]
        assert len(booked) == 1
        rows = gw.rows()
    [row] = [r for r in rows if r.endpoint == "background"]
    done = owners[0].parse()
    assert done.usage is not None
    cost = done.usage.input_tokens * Decimal("0.15") + done.usage.output_tokens * Decimal("0.6")
    assert row.cost_usd == cost / M and row.tenant == "alpha"
    assert booked[0].headers["x-thrifty-cost-usd"] == f"{cost / M:f}".rstrip("0")
    assert len(rows) == 2
