"""`thrifty eval cache` on a tiny pairs file written here (never the shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from thrifty.cli import main
from thrifty.errors import ConfigError
from thrifty.eval.cache.pairs import load_pairs, split_of
from thrifty.eval.cache.swaps import swap_set, swaps_of
from thrifty.levers.fewer_calls.semantic.table import load_calibration

DUPLICATES = [
    ("How do I learn Python?", "What is the best way to learn Python?"),
    ("How can I lose weight fast?", "What is the fastest way to lose weight?"),
    ("What is the capital of France?", "Which city is the capital of France?"),
    ("How do I turn on dark mode?", "How can I enable dark mode?"),
    ("Why is the sky blue?", "What makes the sky blue?"),
    ("How do I make pancakes?", "What is a good pancake recipe?"),
    ("Is coffee bad for you?", "Is drinking coffee unhealthy?"),
    ("How do I reset my password?", "How can I reset my password?"),
]
DIFFERENT = [
    ("How do I learn Python?", "How do I learn Java?"),
    ("What is the capital of France?", "What is the capital of Spain?"),
    ("How do I turn on dark mode?", "How do I turn off dark mode?"),
    ("Why is the sky blue?", "Why is the ocean salty?"),
    ("How do I make pancakes?", "How do I make a website?"),
    ("Is coffee bad for you?", "Is 5 hours of sleep enough?"),
    ("How do I make pancakes?", "How do I make bread?"),
    ("Why is the sky blue?", "Why is grass green?"),
    ("How do I reset my password?", "How do I change my username?"),
]


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    rows = []
    for copy in range(12):  # enough pairs in each half and in the fit quarter
        for index, (a, b) in enumerate(DUPLICATES):
            rows.append({"id": f"d{copy}-{index}", "text_a": a, "text_b": b, "label": 1})
        for index, (a, b) in enumerate(DIFFERENT):
            rows.append({"id": f"n{copy}-{index}", "text_a": a, "text_b": b, "label": 0})
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return path


def run_eval(pairs_file: Path, tmp_path: Path, *extra: str) -> int:
    return main(
        [
            "eval",
            "cache",
            "--pairs",
            str(pairs_file),
            "--cache-dir",
            str(tmp_path / "vectors"),
            "--speed-entries",
            "500",
            *extra,
        ]
    )


def test_json_report_has_each_target_and_both_protocols(
    pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "table.json"
    plot = tmp_path / "curve.png"
    args = ("--json", "--strategy", "scorer", "--save", str(table), "--plot", str(plot))
    assert run_eval(pairs_file, tmp_path, *args) == 0
    report = json.loads(capsys.readouterr().out)
    assert [t["target_false_hit_rate"] for t in report["targets"]] == [0.02, 0.05]
    for row in report["targets"]:
        assert {"target_false_hit_rate", "realised_false_hit_rate", "recall"} <= set(row)
        if row["realised_false_hit_rate"] is not None:
            assert row["realised_false_hit_rate"] <= 1 and 0 <= row["recall"] <= 1
    assert report["calibration_pairs"] + report["held_out_pairs"] == report["pairs"] == 204
    assert report["swap_set"]["kinds"]["duplicate"] > 0
    assert report["whole_cache"]["cached"] > 0
    assert report["lookup_speed"]["index_entries"] == 500
    assert report["lookup_speed"]["p50_ms"] > 0
    assert report["strategy"] == "scorer" and report["fit_pairs"] > 0
    assert set(report["curve"]) == {"guarded", "cosine", "scorer"}
    assert len(report["curve"]["guarded"]) == len(report["curve"]["cosine"]) == 101
    assert [r["recall"] for r in report["precision_at_recall"]][:2] == [0.02, 0.05]
    for level in report["precision_at_recall"]:
        for name in ("cosine", "guarded", "scorer"):
            assert level[name] is None or 0 <= level[name] <= 1
    for row in report["targets"]:
        assert row["strategy"] == "scorer"
        assert {"threshold", "realised_false_hit_rate"} <= set(row["guarded_cosine"])
    floor = report["label_noise"]["near_identical"]["noise_floor"]
    assert floor["labelled_different"] <= floor["pairs"]
    assert 0 <= floor["interval_99"][0] <= floor["interval_99"][1] <= 1
    assert set(report["label_noise"]) == {"same_words", "near_identical"}
    assert report["label_noise"]["same_words"]["flagged_held_out"] == 0  # none in this file
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = load_calibration(table, report["model_id"])
    assert set(saved.thresholds) == {0.02, 0.05} and saved.scorer is not None
    # The guards veto every trap of this file: no wrong hit on the held-out half.
    for row in report["targets"]:
        assert row["realised_false_hit_rate"] in (None, 0.0)


def test_the_default_guarded_cosine_strategy_saves_a_cosine_table(
    pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "table.json"
    args = ("--json", "--save", str(table), "--targets", "0.2")  # guarded is the default
    assert run_eval(pairs_file, tmp_path, *args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["strategy"] == "cosine"
    (row,) = report["targets"]
    assert row["threshold"] == row["guarded_cosine"]["threshold"]
    saved = load_calibration(table, report["model_id"])
    assert saved.scorer is None and saved.thresholds == {0.2: row["threshold"]}


def test_the_three_layer_model_makes_its_own_table(
    pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from thrifty.levers.fewer_calls.semantic.models import MODELS

    table = tmp_path / "table.json"
    args = ("--json", "--model", "minilm-l3", "--save", str(table), "--targets", "0.2")
    assert run_eval(pairs_file, tmp_path, *args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model_id"] == MODELS["minilm-l3"].model_id
    assert (tmp_path / "vectors" / "paraphrase-MiniLM-L3-v2-onnx").is_dir()
    saved = load_calibration(table, MODELS["minilm-l3"].model_id)
    assert set(saved.thresholds) == {0.2}
    with pytest.raises(ConfigError, match="was made with"):
        load_calibration(table, MODELS["minilm-l6"].model_id)


def test_a_model_that_cannot_load_is_a_clear_error(
    pairs_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from thrifty.levers.fewer_calls.semantic import l3_embedder

    monkeypatch.setattr(l3_embedder, "packaged_model", lambda: tmp_path / "gone.onnx")
    assert run_eval(pairs_file, tmp_path, "--model", "minilm-l3", "--json") == 2
    assert "--model minilm-l3: cannot read the embedding model" in capsys.readouterr().err


def test_text_report(pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_eval(pairs_file, tmp_path, "--limit", "30", "--targets", "0.1") == 0
    out = capsys.readouterr().out
    assert "pairs: 30" in out and "pair protocol" in out and "whole-cache protocol" in out
    assert "swap set" in out and "lookup (embedding + search, 500 entries)" in out
    assert "label noise, rule same_words" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--targets", "2"], "--targets"),
        (["--targets", "x"], "--targets"),
        (["--limit", "0"], "--limit"),
    ],
)
def test_bad_arguments_are_clear_errors(
    pairs_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert run_eval(pairs_file, tmp_path, *args) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_strategy_is_refused(
    pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_eval(pairs_file, tmp_path, "--strategy", "magic")
    assert exited.value.code == 2 and "--strategy" in capsys.readouterr().err


def test_bad_pairs_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": 1, "text_a": "a", "text_b": "b", "label": 1}\n{"id": 2}\n')
    with pytest.raises(ConfigError, match=r"broken\.jsonl:2"):
        load_pairs(broken)
    broken.write_text('{"id": 1, "text_a": "a", "text_b": "b", "label": 0.5}\n')
    with pytest.raises(ConfigError, match="label"):
        load_pairs(broken)
    broken.write_text("\n")
    with pytest.raises(ConfigError, match="no pairs"):
        load_pairs(broken)
    assert main(["eval", "cache", "--pairs", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read the pairs file" in capsys.readouterr().err


def test_the_split_is_stable_and_about_half() -> None:
    halves = [split_of(str(i)) for i in range(2000)]
    assert halves == [split_of(str(i)) for i in range(2000)]
    assert 900 < halves.count("calibration") < 1100


def test_swaps_change_one_detail() -> None:
    assert ("polarity", "How do I turn off dark mode?") in swaps_of("How do I turn on dark mode?")
    assert ("negation", "Why isn't 5 prime?") in swaps_of("Why is 5 prime?")
    assert ("number", "Why is 6 prime?") in swaps_of("Why is 5 prime?")
    assert ("year", "Best phone of 2020?") in swaps_of("Best phone of 2019?")
    assert ("negation", "What is allowed?") in swaps_of("What isn't allowed?")
    assert swaps_of("\u0130s it on?") == [("polarity", "\u0130s it off?")]  # "İs" lowers oddly


def test_the_swap_set_pairs_each_duplicate_with_its_twins() -> None:
    from thrifty.eval.cache.pairs import Pair

    mixed = swap_set(
        [
            Pair("1", "Turn on dark mode", "How do I turn on dark mode?", True),
            Pair("2", "a", "b", False),
        ]
    )
    kinds = [kind for _, kind in mixed]
    assert kinds == ["duplicate", "polarity", "negation"]
    assert all(not pair.same for pair, kind in mixed if kind != "duplicate")
    assert {pair.text_a for pair, _ in mixed} == {"Turn on dark mode"}
