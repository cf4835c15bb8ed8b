"""PriceBook mechanics: no network, lazy loading, memoisation, rendering."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import thrifty
from thrifty.config import PriceOverride
from thrifty.pricing import ModelRates, PriceBook, format_rates, rates_to_json
from thrifty.pricing import book as book_module
from thrifty.types import Usage

SRC = str(Path(thrifty.__file__).resolve().parent.parent)


def _run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter (so nothing is already imported or cached)."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_no_socket_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pricing opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    book = PriceBook()
    usage = Usage(input_tokens=100, output_tokens=10)
    for model in ("gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro", "no-such-model"):
        book.cost(usage, model)
        book.cost(usage, model, batch=True)


def test_no_socket_in_a_fresh_interpreter() -> None:
    # The in-process test cannot see work done when genai_prices was first imported by an
    # earlier test; this one imports and loads everything with sockets already refused.
    out = _run_fresh(
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise AssertionError('network')\n"
        "socket.socket.connect = refuse\n"
        "socket.socket.connect_ex = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "socket.create_connection = refuse\n"
        "from thrifty.pricing import PriceBook\n"
        "from thrifty.types import Usage\n"
        "b = PriceBook()\n"
        "print(b.cost(Usage(input_tokens=1000, output_tokens=100), 'gpt-4o').usd)\n"
    )
    # 1000*2.5 + 100*10 = 3500 -> $0.0035
    assert out.strip() == "0.0035"


def test_import_does_no_table_loading() -> None:
    out = _run_fresh(
        "import sys\n"
        "import thrifty.pricing\n"
        "b = thrifty.pricing.PriceBook()\n"
        "print('genai_prices.data' in sys.modules)\n"
        "b.rates('gpt-4o')\n"
        "print('genai_prices.data' in sys.modules)\n"
    )
    assert out.split() == ["False", "True"]


def test_rates_are_memoised(monkeypatch: pytest.MonkeyPatch) -> None:
    book = PriceBook()
    first = book.rates("gpt-4o")
    assert first is not None
    assert book.rates("gpt-4o") is first
    calls: list[str] = []

    def counting(*args: Any) -> None:
        calls.append("lookup")

    monkeypatch.setattr(book_module, "find_model", counting)
    book.rates("gpt-4o")
    book.rates("no-such-model")
    book.rates("no-such-model")  # misses are memoised too
    assert calls == ["lookup"]
    # Different key parts are different entries.
    assert book.rates("gpt-4o", local=True) is not first


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(book_module, "MEMO_LIMIT", 5)
    book = PriceBook({"m-*": PriceOverride(input=Decimal(1), output=Decimal(1))})
    for i in range(50):
        assert book.rates(f"m-{i}") is not None
    assert len(book._memo) <= 5


def test_cached_lookup_is_cheap() -> None:
    book = PriceBook()
    book.rates("gpt-4o")
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        book.rates("gpt-4o")
    per_call = (time.perf_counter() - start) / n
    # Typically ~0.3 us; the bound is loose so a loaded CI machine does not flake.
    assert per_call < 20e-6


def test_override_records_provider() -> None:
    book = PriceBook({"m": PriceOverride(input=Decimal(1), output=Decimal(2))})
    rates = book.rates("m", provider="openai")
    assert rates is not None
    assert (rates.provider, rates.source, rates.model) == ("openai", "override", "m")


def test_format_rates_table() -> None:
    rates = PriceBook().rates("claude-sonnet-4-5")
    assert rates is not None
    text = format_rates(rates)
    assert text.splitlines()[0] == "claude-sonnet-4-5 (anthropic)  source: genai-prices"
    assert "> 200,000 in" in text
    input_line = next(line for line in text.splitlines() if line.startswith("input"))
    assert input_line.split()[1:] == ["$3", "$6", "$1.5", "$3"]


def test_format_rates_override_with_discount() -> None:
    rates = PriceBook({"m": PriceOverride(input=Decimal("0.10"), output=Decimal(2))}).rates("m")
    assert rates is not None
    text = format_rates(rates)
    assert "$0.1" in text
    # No per-rate batch prices in an override: the discount comes off every rate.
    assert "batch: 50% off every rate (column 'batch')" in text
    assert rates.batch is not None
    assert rates.batch_derived
    assert (rates.batch.input, rates.batch.output) == (Decimal("0.05"), Decimal(1))


def test_rates_to_json_is_json_ready() -> None:
    rates = PriceBook().rates("claude-sonnet-4-5")
    assert rates is not None
    data = rates_to_json(rates)
    json.dumps(data)  # only str / int / None
    assert data["input"] == "3"
    assert data["cache_write_1h"] == "6"
    assert data["batch_discount"] == "0.5"
    assert data["long_context_threshold"] == 200_000
    assert data["long_context_output"] == "22.5"
    assert data["batch_output"] == "7.5"
    assert data["source"] == "genai-prices"


def test_rates_to_json_without_tiers() -> None:
    rates = ModelRates(
        model="m",
        provider=None,
        input=Decimal(1),
        output=Decimal(2),
        cache_read=Decimal("0.1"),
        cache_write_5m=Decimal("1.25"),
        cache_write_1h=Decimal(2),
        batch_discount=Decimal(0),
        long_context_threshold=None,
        long_context=None,
        source="override",
    )
    data = rates_to_json(rates)
    assert data["long_context_input"] is None
    assert data["batch_input"] is None
    assert data["cache_read"] == "0.1"


def test_cost_ignores_the_callers_decimal_precision() -> None:
    import decimal

    from thrifty.pricing import PriceBook
    from thrifty.types import Usage

    usage = Usage(input_tokens=123_457, cache_read_tokens=1_001, output_tokens=9_999)
    book = PriceBook()
    exact = book.cost(usage, "gpt-4o", provider="openai").usd
    with decimal.localcontext(decimal.Context(prec=3)):
        assert book.cost(usage, "gpt-4o", provider="openai").usd == exact
    # (122456 x 2.5 + 1001 x 1.25 + 9999 x 10) / 1e6
    assert exact == decimal.Decimal("0.40738125")
