"""A streamed answer's money figures (cost, baseline, saved) are formatted once when the
stream arrives in one read (its head and its closing comment carry the same figures),
and the closing comment carries the ledger's figures however the stream arrived."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from thrifty.gateway import answers, headers

from .conftest import Gateway, make_settings, running_gateway

BODY = {
    "model": "gpt-4o",
    "stream": True,
    "messages": [{"role": "user", "content": "figures once please"}],
    "metadata": {"thrifty_task": "summarize"},
}


@pytest.fixture(params=[0.0, 20.0], ids=["one read", "many reads"])
async def paced(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(
        tmp_path, simulator={"port": 0, "stream_chunk_delay_ms": request.param}
    )
    async with running_gateway(settings) as gateway:
        yield gateway


async def test_the_head_and_the_closing_comment_agree_with_the_ledger(
    paced: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    formatted: list[Any] = []
    real = answers.money_headers

    def counting(response: Any) -> list[tuple[str, str]]:
        formatted.append(response)
        return real(response)

    monkeypatch.setattr(answers, "money_headers", counting)
    monkeypatch.setattr(headers, "money_headers", counting)  # thrifty_headers' own call
    async with httpx.AsyncClient(base_url=paced.url) as http:
        response = await http.post("/v1/chat/completions", json=BODY)
    assert response.status_code == 200
    *_, last = [e for e in response.text.split("\n\n") if e]
    comment = dict(part.split("=") for part in last.removeprefix(": thrifty ").split())
    [row] = paced.rows()
    assert row.cost_usd is not None and row.baseline_usd is not None
    assert Decimal(comment["cost-usd"]) == row.cost_usd
    assert Decimal(comment["baseline-usd"]) == row.baseline_usd
    assert Decimal(comment["saved-usd"]) == row.baseline_usd - row.cost_usd
    delay = paced.thrifty.settings.simulator.stream_chunk_delay_ms
    head = {k.removeprefix("x-thrifty-"): v for k, v in response.headers.items()}
    if delay == 0:  # the whole stream in one read: the head has the figures, made once
        assert len(formatted) == 1
        for name in ("cost-usd", "baseline-usd", "saved-usd"):
            assert head[name] == comment[name]
    else:  # the head leaves before the cost is known
        assert len(formatted) == 2
        assert "cost-usd" not in head
