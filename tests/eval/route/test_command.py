"""``thrifty eval route`` through a parser built here with :func:`register`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.eval.route.conftest import synthetic_records
from thrifty.eval.route.command import register
from thrifty.eval.route.records import write_records

HEADLINE_KEYS = {
    "kind",
    "cost_pct_to_match_strongest",
    "cost_pct_at_98pct_quality",
    "cost_pct_at_95pct_quality",
    "best_quality_pct",
    "cpt_50",
    "cpt_80",
    "apgr",
    "frontier",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="thrifty eval")
    register(parser.add_subparsers(dest="eval_command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def records_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.jsonl"
    write_records(path, synthetic_records(60, "train") + synthetic_records(30, "test", 500))
    return path


def test_json_has_stable_keys_per_dataset_and_strategy(
    records_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["route", "--records", str(records_file), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["format"] == "thrifty-eval-route/1"
    data = document["datasets"]["mine"]
    assert {
        "splits",
        "n_train",
        "n_test",
        "dropped_rows",
        "strongest",
        "cheapest",
        "strongest_test_quality",
        "strongest_test_cost_usd",
        "strategies",
    } <= set(data)
    assert (data["n_train"], data["n_test"], data["splits"]) == (60, 30, 1)
    strategies = data["strategies"]
    assert {
        "always-strongest",
        "always-cheapest",
        "best-static",
        "random",
        "prompt-router-logreg",
        "prompt-router-knn",
        "agreement-cascade@98%",
        "scorer-cascade@98%",
        "vote-chain@98%",
        "perfect-router",
    } <= set(strategies)
    for name, figures in strategies.items():
        assert set(figures) >= HEADLINE_KEYS, name
        assert all(
            {"cost_pct", "quality", "strong_share", "label"} == set(p) for p in figures["frontier"]
        )
    assert strategies["always-strongest"]["cost_pct_to_match_strongest"] == 100.0
    assert strategies["always-cheapest"]["cost_pct_to_match_strongest"] is None
    assert strategies["prompt-router-logreg"]["cost_pct_to_match_strongest"] == pytest.approx(40)
    assert "train_chosen_98_cost_pct" in strategies["scorer-cascade@98%"]
    # small on every query, large too on the 10 hard ones: ($0.03 + $0.10) / $0.30
    assert strategies["vote-chain@98%"]["cost_pct_to_match_strongest"] == pytest.approx(130 / 3)


def test_records_without_split_use_random_halves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nosplit.jsonl"
    write_records(path, synthetic_records(60))
    assert main(["route", "--records", str(path), "--json", "--splits", "2"]) == 0
    data = json.loads(capsys.readouterr().out)["datasets"]["nosplit"]
    assert (data["splits"], data["n_train"], data["n_test"]) == (2, 30, 30)
    strategies = data["strategies"]
    assert strategies["always-strongest"]["per_split"]["cost_pct_to_match_strongest"] == [100, 100]
    halves = strategies["random"]["per_split"]["cost_pct_at_95pct_quality"]
    assert len(halves) == 2 and halves[0] != halves[1]  # different random halves
    assert strategies["random"]["cost_pct_at_95pct_quality"] == pytest.approx(sum(halves) / 2)


def test_table_and_plot(
    records_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "frontier.png"
    assert main(["route", "--records", str(records_file), "--plot", str(png)]) == 0
    table = capsys.readouterr().out
    assert "mine: train 60 / test 30" in table and "prompt-router-logreg" in table
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_help_documents_the_record_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["route", "--help"])
    text = capsys.readouterr().out
    for word in ("--records", "outcomes", "score", "cost_usd", "input_tokens", "split"):
        assert word in text


def test_bad_input_exits_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n', encoding="utf-8")
    assert main(["route", "--records", str(bad)]) == 2
    assert "bad.jsonl:1: outcomes" in capsys.readouterr().err
    assert main(["route", "--records", str(tmp_path / "absent.jsonl")]) == 2
    assert "absent.jsonl" in capsys.readouterr().err
    few = tmp_path / "few.jsonl"
    write_records(few, synthetic_records(4, "train") + synthetic_records(4, "test", 9))
    assert main(["route", "--records", str(few)]) == 2
    assert "too few records" in capsys.readouterr().err
    mixed = tmp_path / "mixed.jsonl"
    write_records(mixed, synthetic_records(20, "train") + synthetic_records(5, None, 9))
    assert main(["route", "--records", str(mixed)]) == 2
    assert "split" in capsys.readouterr().err
    assert main(["route", "--records", str(few), "--splits", "0"]) == 2


def test_a_missing_data_folder_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["route", "--data", str(tmp_path), "--dataset", "routellm/gsm8k"]) == 2
    assert "gsm8k" in capsys.readouterr().err


def test_a_missing_extra_is_named(
    records_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "thrifty.eval.route.evaluate", None)
    assert main(["route", "--records", str(records_file)]) == 2
    assert "pip install 'thrifty[eval-route]'" in capsys.readouterr().err
