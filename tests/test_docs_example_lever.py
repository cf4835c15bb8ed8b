"""The ten-line example lever in docs/architecture.md works as the docs say: run it."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from thrifty.dialects.view import RequestView
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import ledger_stage
from thrifty.pipeline import Parts, compose
from thrifty.testing import FakeUpstream, accountant, reply, request_for
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step, Usage

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def example_builder() -> Any:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"A ten-line lever.*?```python\n(.*?)```", text, re.S)
    assert block is not None, "the example lever is missing from docs/architecture.md"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 13  # "ten lines" give or take the signature
    scope: dict[str, Any] = {
        "Parts": Parts,
        "Stage": Stage,
        "Handler": Handler,
        "ChatRequest": ChatRequest,
        "ChatResponse": ChatResponse,
        "RequestView": RequestView,
        "Step": Step,
        "replace": replace,
    }
    exec(compile(code, str(DOC), "exec"), scope)
    return scope["build"]


async def test_the_documented_lever_books_a_cache_hit(tmp_path: Path) -> None:
    stage = await example_builder()(None)
    usage = Usage(input_tokens=1000, output_tokens=200)
    upstream = FakeUpstream(lambda req: reply(req, "answer", usage))
    store = LedgerStore(tmp_path / "l.db")
    await store.open()
    try:
        handler = compose([ledger_stage(store, accountant()), stage], upstream)
        await handler(request_for("gpt-4o", "same question"))
        hit = await handler(request_for("gpt-4o", "same question"))
        assert len(upstream.requests) == 1
        assert hit.body is not None and hit.steps[0].lever == "memo"
        miss, cached = store.rows()
    finally:
        await store.close()
    assert miss.cost_usd == Decimal("0.0045") and miss.savings == {}
    assert (cached.cost_usd, cached.baseline_usd) == (0, Decimal("0.0045"))
    assert cached.savings == {"memo": Decimal("0.0045")} and cached.calls == ()
