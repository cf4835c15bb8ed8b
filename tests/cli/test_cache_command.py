"""``thrifty cache stats | clear``: figures from the store, the saved counts and the ledger;
clearing one task or everything; no file created by looking."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from thrifty.cli import main
from thrifty.config import Settings
from thrifty.runtime import Thrifty


def body(text: str) -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": text}],
        "temperature": 0,
    }


def populate(ledger: Path) -> None:
    """faq: 2 questions, each asked 3 times (2 hits each); no task: 1 asked twice."""

    async def run() -> None:
        settings = Settings(ledger={"path": ledger}, simulate=True)
        async with Thrifty(settings, environ={}) as thrifty:
            for _ in range(3):
                for text in ("one", "two"):
                    await thrifty.chat(body(text), task="faq")
            for _ in range(2):
                await thrifty.chat(body("three"))
            await thrifty.chat({**body("four"), "temperature": 1})

    asyncio.run(run())


def stats(ledger: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["cache", "--ledger", str(ledger), "stats", "--json", *extra]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_stats_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "thrifty.db"
    populate(ledger)
    everything = stats(ledger, capsys=capsys)
    assert everything["path"] == str(tmp_path / "thrifty-cache.db")
    assert everything["store"]["entries"] == 3
    assert everything["counts"]["hit"] == 5 and everything["counts"]["miss"] == 3
    assert everything["counts"]["stored"] == 3 and everything["counts"]["bypass"] == 1
    assert everything["ledger"]["hits"] == 5
    saved = Decimal(everything["ledger"]["saved_usd"])
    assert saved > 0
    faq = stats(ledger, "--task", "faq", capsys=capsys)
    assert faq["counts"]["hit"] == 4 and faq["ledger"]["hits"] == 4
    assert Decimal(faq["ledger"]["saved_usd"]) < saved
    assert faq["store"]["entries"] == 3  # the store's size is for every task

    assert main(["cache", "--ledger", str(ledger), "clear", "--task", "faq"]) == 0
    assert "dropped 2 entries of task 'faq'" in capsys.readouterr().out
    assert stats(ledger, capsys=capsys)["store"]["entries"] == 1
    assert main(["cache", "--ledger", str(ledger), "clear"]) == 0
    assert "dropped 1 entries" in capsys.readouterr().out
    assert stats(ledger, capsys=capsys)["store"]["entries"] == 0


def test_the_human_form_names_its_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "thrifty.db"
    populate(ledger)
    assert main(["cache", "--ledger", str(ledger), "stats"]) == 0
    out = capsys.readouterr().out
    assert "store (every task): 3 of 100000 entries" in out
    assert "ledger: 5 requests answered from the cache, saved $" in out
    assert "hit 5, partial 0, miss 3" in out


def test_looking_at_a_missing_store_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "none.db"
    data = stats(ledger, capsys=capsys)
    assert data["store"]["entries"] == 0 and data["ledger"] == {"hits": 0, "saved_usd": None}
    assert main(["cache", "--ledger", str(ledger), "clear"]) == 0
    assert list(tmp_path.iterdir()) == []


def test_an_in_memory_cache_has_nothing_to_inspect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "thrifty.toml"
    config.write_text('[levers.cache]\nbackend = "memory"\n', encoding="utf-8")
    assert main(["cache", "--config", str(config), "stats"]) == 2
    assert "in memory" in capsys.readouterr().err
