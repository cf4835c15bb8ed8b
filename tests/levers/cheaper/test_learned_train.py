"""``thrifty route train``, and the embedding router as a replay strategy."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.eval.route.test_no_label_leak import Tripwire
from tests.levers.cheaper.learned_kit import LARGE, SMALL, WordEmbedder, routing_records
from thrifty.cli import main
from thrifty.eval.route.evaluate import evaluate_split
from thrifty.eval.route.records import record_to_json
from thrifty.eval.route.strategies import AlwaysModel
from thrifty.eval.route.table import OutcomeTable
from thrifty.levers.cheaper.learned.command import TARGET_SHARES, fit_router, target_names
from thrifty.levers.cheaper.learned.predictors import EmbeddingRouter, file_from_router, live_router
from thrifty.levers.cheaper.learned.router_file import load_router
from thrifty.levers.fewer_calls.semantic.models import MINILM_L6_ID


def write_records(path: Path, n: int = 60, split: bool = True) -> Path:
    records = routing_records(n, split="train" if split else None)
    if split:
        records += routing_records(30, offset=5000, split="test")
    path.write_text("".join(json.dumps(record_to_json(r)) + "\n" for r in records))
    return path


def test_train_writes_a_router_file_that_routes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = write_records(tmp_path / "records.jsonl")
    out = tmp_path / "router.json"
    assert main(["route", "train", "--records", str(records), "--out", str(out)]) == 0
    router = load_router(out)
    assert router.trained_on["rows"] == 60  # the train rows only
    assert router.trained_on["source"] == "records"
    live = live_router(router)
    assert live.decide("easy sum of numbers number 1", router.threshold_for(1.0)) == SMALL
    assert live.decide("hard proof of theorem number 3", router.threshold_for(1.0)) == LARGE
    assert "fitted on 60 rows" in capsys.readouterr().err


def test_evaluate_prints_the_router_against_static_routing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = write_records(tmp_path / "records.jsonl")
    out = tmp_path / "router.json"
    assert main(["route", "train", "--records", str(records), "--out", str(out), "--evaluate"]) == 0
    table = capsys.readouterr().out
    for name in ("always-strongest", "best-static", "prompt-router-logreg", "perfect-router"):
        assert name in table


def test_records_without_a_split_train_on_every_row(tmp_path: Path) -> None:
    records = write_records(tmp_path / "records.jsonl", n=40, split=False)
    out = tmp_path / "router.json"
    assert main(["route", "train", "--records", str(records), "--out", str(out)]) == 0
    assert load_router(out).trained_on["rows"] == 40


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--splits", "0"], "--splits must be at least 1"),
        ([], "too few records"),
    ],
)
def test_bad_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    records = write_records(tmp_path / "records.jsonl", n=5, split=False)
    out = tmp_path / "router.json"
    assert main(["route", "train", "--records", str(records), "--out", str(out), *args]) == 2
    assert says in capsys.readouterr().err
    assert not out.exists()


def test_a_bad_records_file_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "outcomes": {}}\n')
    assert main(["route", "train", "--records", str(bad), "--out", str(tmp_path / "r.json")]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err


def test_the_embedding_router_never_reads_test_labels() -> None:
    train = OutcomeTable.from_records(routing_records(90))
    test = OutcomeTable.from_records(routing_records(45, offset=1000))
    router = EmbeddingRouter(WordEmbedder())
    fit_router(train, router)
    wired = replace(test, scores=test.scores.view(Tripwire))
    Tripwire.reads = 0
    plan = router.plan(wired.views())
    assert Tripwire.reads == 0
    assert plan.settings


def test_the_embedding_router_beats_static_routing_where_the_prompt_tells() -> None:
    train = OutcomeTable.from_records(routing_records(90))
    test = OutcomeTable.from_records(routing_records(45, offset=1000))
    embedder = WordEmbedder()
    split = evaluate_split(train, test, [AlwaysModel("strongest"), EmbeddingRouter(embedder)])
    router = next(r for r in split.results if r.name == "embedding-router-logreg")
    matched = [p for p in router.points if p.quality >= split.strongest_quality]
    assert min(p.cost_pct for p in matched) < 50  # two thirds of the prompts are easy
    # planning embedded each test prompt once, and only prompts
    assert set(test.prompts) <= set(embedder.texts)


def test_target_shares_cover_the_documented_range() -> None:
    assert TARGET_SHARES[0] == 0.8 and TARGET_SHARES[-1] == 1.0
    assert list(TARGET_SHARES) == sorted(TARGET_SHARES)


def test_a_router_on_the_real_minilm_embeddings_routes() -> None:
    pytest.importorskip("onnxruntime")
    from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    train = OutcomeTable.from_records(routing_records(30))
    router = EmbeddingRouter(embedder)
    fit_router(train, router)
    saved = file_from_router(router, target_names(), {})
    assert saved.embedder == MINILM_L6_ID
    assert len(saved.weights) == 384
    live = live_router(saved, embedder)
    threshold = saved.threshold_for(1.0)
    assert live.decide("easy sum of numbers number 9001", threshold) == SMALL
    assert live.decide("hard proof of theorem number 9003", threshold) == LARGE
