"""Shared helpers for the ledger tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.ledger import LedgerRow, LedgerStore
from thrifty.types import Usage, new_request_id

RowFactory = Callable[..., LedgerRow]


def make_row(**overrides: Any) -> LedgerRow:
    fields: dict[str, Any] = {
        "request_id": new_request_id(),
        "ts": 1_700_000_000.0,
        "tenant": "team-a",
        "task": "summarise",
        "dialect": "openai",
        "endpoint": "/v1/chat/completions",
        "requested_model": "gpt-4o",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "stream": False,
        "usage": Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=300),
        "cost_usd": Decimal("0.000123456789"),
        "baseline_usd": Decimal("0.0025"),
        "savings": {"routing": Decimal("0.002376543211")},
        "saved_usd": Decimal("0.002376543211"),
        "price_source": "genai-prices",
        "latency_ms": 12.5,
        "status": 200,
    }
    fields.update(overrides)
    return LedgerRow(**fields)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "ledger.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[LedgerStore]:
    ledger = LedgerStore(db_path)
    await ledger.open()
    yield ledger
    await ledger.close()
