"""``thrifty shadow report | export``, and a router trained on exported samples."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.levers.cheaper.test_shadow_samples import sample
from thrifty.cli import main
from thrifty.eval.route.records import read_records
from thrifty.levers.cheaper.learned.predictors import live_router
from thrifty.levers.cheaper.learned.router_file import load_router
from thrifty.levers.cheaper.shadow.samples import ShadowSample, SqliteShadowSamples


def keep(path: Path, samples: list[ShadowSample]) -> None:
    async def add() -> None:
        async with SqliteShadowSamples(path) as store:
            for one in samples:
                await store.add(one)

    asyncio.run(add())


def easy_and_hard(n: int) -> list[ShadowSample]:
    """The cheap model agrees on easy prompts and not on hard ones (every third)."""
    kept = []
    for k in range(n):
        hard = k % 3 == 0
        prompt = f"{'hard proof of theorem' if hard else 'easy sum of numbers'} number {k}"
        kept.append(sample(not hard, ts=float(k), prompt=prompt, request_id=f"r{k}"))
    return kept


def test_report_gives_agreement_and_costs_per_task(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep(tmp_path / "ledger-shadow.db", [sample(True), sample(True), sample(False), sample(None)])
    ledger = str(tmp_path / "ledger.db")
    assert main(["shadow", "report", "--ledger", ledger, "--json"]) == 0
    (pair,) = json.loads(capsys.readouterr().out)["pairs"]
    assert (pair["task"], pair["samples"], pair["agreed"], pair["disagreed"]) == ("qa", 4, 2, 1)
    assert pair["not_judged"] == 1
    assert pair["agreement"] == round(2 / 3, 4)
    low, high = pair["agreement_95"]
    assert 0 < low < 2 / 3 < high < 1
    assert pair["served_cost_usd"] == "0.00108" and pair["shadow_cost_usd"] == "0.018"
    assert pair["served_cost_pct_of_shadow"] == 6.0  # $0.00027 against $0.0045
    assert main(["shadow", "report", "--ledger", ledger]) == 0
    table = capsys.readouterr().out
    assert "gpt-4o-mini -> gpt-4o" in table and "66.7%" in table


def test_report_without_samples_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shadow", "report", "--ledger", str(tmp_path / "ledger.db")]) == 2
    assert "no shadow samples" in capsys.readouterr().err


def test_exported_samples_train_a_router(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep(tmp_path / "ledger-shadow.db", [*easy_and_hard(60), sample(None)])
    records, router = tmp_path / "records.jsonl", tmp_path / "router.json"
    ledger = str(tmp_path / "ledger.db")
    assert (
        main(["shadow", "export", "--ledger", ledger, "--task", "qa", "--out", str(records)]) == 0
    )
    exported = read_records(records)
    assert len(exported) == 60  # the unjudged sample is left out
    assert {record.task for record in exported} == {"qa"}  # a router trained on them reads it
    first = exported[0].outcomes
    assert first["gpt-4o-mini"].score == 0 and first["gpt-4o"].score == 1
    assert str(first["gpt-4o"].cost_usd) == "0.0045"
    assert main(["route", "train", "--records", str(records), "--out", str(router)]) == 0
    trained = load_router(router)
    live = live_router(trained)
    assert live.decide("easy sum of numbers number 1000", trained.threshold_for(1.0)) == (
        "gpt-4o-mini"
    )
    assert live.decide("hard proof of theorem number 999", trained.threshold_for(1.0)) == "gpt-4o"


def test_export_asks_which_served_model_when_there_are_several(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep(tmp_path / "ledger-shadow.db", [sample(True), sample(True, served_model="claude-x")])
    out = tmp_path / "r.jsonl"
    ledger = str(tmp_path / "ledger.db")
    assert main(["shadow", "export", "--ledger", ledger, "--out", str(out)]) == 2
    assert "claude-x, gpt-4o-mini" in capsys.readouterr().err
    args = ["shadow", "export", "--ledger", ledger, "--served-model", "claude-x", "--out", str(out)]
    assert main(args) == 0
    assert len(out.read_text().splitlines()) == 1


def test_report_takes_a_time_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day = 86_400.0
    keep(tmp_path / "ledger-shadow.db", [sample(True, ts=0.0), sample(False, ts=2 * day)])
    ledger = str(tmp_path / "ledger.db")
    args = ["shadow", "report", "--ledger", ledger, "--since", "1970-01-02", "--json"]
    assert main(args) == 0
    (pair,) = json.loads(capsys.readouterr().out)["pairs"]
    assert (pair["samples"], pair["disagreed"]) == (1, 1)
    assert main(["shadow", "report", "--ledger", ledger, "--until", "1 Jan"]) == 2
    assert "--until must be a date" in capsys.readouterr().err
