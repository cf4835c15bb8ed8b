"""What ``thrifty report`` says of background Responses calls.  A create and the row that
books its work were two requests, two upstream calls and one "call with no known cost"
(the create), so a ledger of one booked background call, one never finished and one
foreground call read "3 calls with no known cost ... 5 requests, 5 upstream calls".  What
really happened: 3 requests, 3 calls, 1 cost unknown (the one never finished).

Rates: gpt-4o-mini 0.15 in / 0.60 out per million tokens."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import openai

from tests.gateway.conftest import make_settings, running_gateway
from thrifty.ledger.query import SqliteLedgerReader

M = Decimal(1_000_000)


def usd(usage: openai.types.responses.ResponseUsage) -> Decimal:
    return (usage.input_tokens * Decimal("0.15") + usage.output_tokens * Decimal("0.6")) / M


async def test_a_booked_create_is_one_request_of_known_cost(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with running_gateway(settings) as gw:
        async with openai.AsyncOpenAI(
            base_url=gw.url + "/v1", api_key="k", max_retries=0
        ) as client:
            booked = await client.responses.create(
                model="gpt-4o-mini", input="Quick", background=True
            )
            await client.responses.create(
                model="gpt-4o-mini", input="[[sim:latency=600000]] Never done", background=True
            )
            foreground = await client.responses.create(model="gpt-4o-mini", input="Hello")
            await asyncio.sleep(0.05)
            done = await client.responses.retrieve(booked.id)
        assert len(gw.rows()) == 4
    assert done.usage is not None and foreground.usage is not None
    [total] = await SqliteLedgerReader(settings.ledger.path).summary(())
    assert (total.requests, total.calls, total.errors) == (3, 3, 0)
    assert (total.cost_unknown, total.baseline_unknown, total.saved_unknown) == (1, 1, 1)
    cost = usd(done.usage) + usd(foreground.usage)
    assert total.cost_pusd == int(cost * 10**12)
    assert total.comparable_requests == 2
    by_endpoint = {
        g.key[0]: g for g in await SqliteLedgerReader(settings.ledger.path).summary(["endpoint"])
    }
    assert by_endpoint["background"].requests == 0 and by_endpoint["background"].calls == 0
    assert by_endpoint["/v1/responses"].requests == 3
    assert by_endpoint["/v1/responses"].cost_unknown == 1
