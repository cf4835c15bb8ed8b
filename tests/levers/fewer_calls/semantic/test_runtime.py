"""The semantic cache in the real runtime, on the bundled simulator: the LLM judge answered
by the simulator's test double and booked in the ledger, and what exploration learnt (the
task's tally, each entry's outcomes) surviving a restart of the runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from thrifty.config import Settings
from thrifty.levers.fewer_calls.semantic import stage
from thrifty.levers.fewer_calls.semantic.calibration import Tally
from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder
from thrifty.levers.fewer_calls.semantic.store import SemanticStore
from thrifty.runtime import Thrifty

# Echoed by the simulator: the two answers use the same words in another order, so the
# judge is asked (they are not the same text) and its double says SAME.
CACHED = "[[sim:echo]] Is Paris the capital of France?"
REWORDED = "[[sim:echo]] Paris is the capital of France?"
AGAIN = "[[sim:echo]] Paris: is the capital of France?"


@pytest.fixture(autouse=True)
def one_model(minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stage, "make_embedder", lambda model, threads: minilm)


def settings(tmp_path: Path) -> Settings:
    return Settings(
        ledger={"path": str(tmp_path / "ledger.db")},  # type: ignore[arg-type]
        simulator={"port": 0},  # type: ignore[arg-type]
        simulate=True,
        tasks={
            "faq": {
                "semantic_cache": {
                    "enabled": True,
                    "threshold": 0.85,
                    "explore_rate": 1.0,
                    "comparator": "judge",
                    "judge_model": "gpt-4o-mini",
                }
            }
        },
    )


def ask(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


async def test_the_judge_runs_on_the_simulator_and_its_cost_is_the_cache_s(
    tmp_path: Path,
) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        await thrifty.chat(ask(CACHED), task="faq")
        explored = await thrifty.chat(ask(REWORDED), task="faq")
        rows = thrifty.ledger.rows()
    assert explored.headers["semantic-cache"] == "explore"
    assert explored.headers["semantic-error-estimate"].startswith("0.000 ")
    row = rows[1]
    judge, answer = row.calls
    assert (judge.call.model, judge.call.lever) == ("gpt-4o-mini", "semantic_cache")
    assert judge.call.usage.output_tokens == 1  # the one word SAME
    assert judge.cost.usd is not None and answer.cost.usd is not None
    assert row.cost_usd == judge.cost.usd + answer.cost.usd
    assert row.savings == {"semantic_cache": -judge.cost.usd}


async def test_exploration_tallies_and_entry_outcomes_survive_a_restart(tmp_path: Path) -> None:
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        await thrifty.chat(ask(CACHED), task="faq")
        first = await thrifty.chat(ask(REWORDED), task="faq")
        assert first.headers["semantic-error-estimate"].endswith("n=1")
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        again = await thrifty.chat(ask(AGAIN), task="faq")
    assert again.headers["semantic-cache"] == "explore"
    assert again.headers["semantic-error-estimate"].endswith("n=2")  # 1 before the restart
    store = SemanticStore(
        tmp_path / "ledger-semantic.db",
        model_id=MiniLMEmbedder.model_id,
        dimensions=MiniLMEmbedder.dimensions,
    )
    try:
        assert store.tallies() == {"faq": Tally(explored=2, wrong=0)}
        learnt = store._db.execute("SELECT query, agreed, wrong, lowest_agreed FROM entries")
        ((query, agreed, wrong, lowest),) = learnt.fetchall()
    finally:
        store.close()
    assert (query, agreed, wrong) == (CACHED, 2, 0)  # both explorations vouched for it
    assert 0.85 <= lowest < 1


async def test_a_streamed_coalescable_exploration_books_its_judge(tmp_path: Path) -> None:
    """Temperature 0: the request goes through coalescing's shared stream, and the judge
    call made at the stream's end still reaches the request's ledger row."""
    async with Thrifty(settings(tmp_path), environ={}) as thrifty:
        await thrifty.chat({**ask(CACHED), "temperature": 0}, task="faq")
        streamed = await thrifty.chat(
            {**ask(REWORDED), "temperature": 0, "stream": True}, task="faq"
        )
        assert streamed.stream is not None
        async for _ in streamed.stream:
            pass
        rows = thrifty.ledger.rows()
    assert streamed.headers["semantic-cache"] == "explore"
    assert [c.call.lever for c in rows[1].calls] == ["semantic_cache", None]
    assert rows[1].savings["semantic_cache"] < 0
