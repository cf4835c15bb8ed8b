"""The adapters on tiny files written here in the shared data sets' exact formats."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.eval.route.datasets import (
    ROUTELLM_STRONG,
    ROUTELLM_WEAK,
    load_routellm,
    load_routerbench,
)
from thrifty.eval.route.records import RecordError

RB_MODELS = ("mistralai/mistral-7b-chat", "gpt-4-1106-preview")


def routerbench_csv(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """rows: (prompt, correctness of model 0, of model 1, response of model 0)."""
    header = ["", "sample_id", "prompt", "eval_name", *RB_MODELS]
    header += [f"{m}|model_response" for m in RB_MODELS] + [f"{m}|total_cost" for m in RB_MODELS]
    header.append("oracle_model_to_route_to")
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for i, (prompt, c0, c1, answer) in enumerate(rows):
            writer.writerow(
                [
                    i,
                    f"arc-challenge.{i}",
                    str([prompt]),
                    "arc-challenge",
                    c0,
                    c1,
                    str([answer]),
                    "['A']",
                    "0.0001036",
                    "0.005189999999999999",
                    RB_MODELS[0],
                ]
            )


def test_routerbench_rows_drop_missing_correctness_and_unwrap_lists(tmp_path: Path) -> None:
    routerbench_csv(
        tmp_path / "arc_challenge_train.csv",
        [("Q1\nA) x\nAnswer:", "1.0", "1.0", "A\n"), ("Q2", "", "1.0", "B")],
    )
    routerbench_csv(tmp_path / "arc_challenge_test.csv", [("Q3", "0.0", "1.0", "C")])
    loaded = load_routerbench(tmp_path, "arc_challenge")
    assert loaded.name == "routerbench/arc_challenge" and loaded.dropped == 1
    train, test = loaded.records
    assert (train.split, test.split) == ("train", "test")
    assert (train.task, test.task) == ("arc-challenge", "arc-challenge")  # its eval_name
    assert train.prompt == "Q1\nA) x\nAnswer:" and train.id == "arc-challenge.0"
    cheap = train.outcomes[RB_MODELS[0]]
    assert cheap.response == "A\n" and cheap.score == 1.0 and cheap.cost_usd == Decimal("0.0001036")
    assert train.outcomes[RB_MODELS[1]].cost_usd == Decimal("0.005189999999999999")
    assert test.outcomes[RB_MODELS[0]].score == 0.0


def test_routerbench_bad_cost_names_the_row(tmp_path: Path) -> None:
    routerbench_csv(tmp_path / "mbpp_train.csv", [("Q1", "1.0", "1.0", "x")])
    text = (tmp_path / "mbpp_train.csv").read_text(encoding="utf-8")
    (tmp_path / "mbpp_train.csv").write_text(text.replace("0.0001036", "free"), encoding="utf-8")
    routerbench_csv(tmp_path / "mbpp_test.csv", [("Q3", "0.0", "1.0", "C")])
    with pytest.raises(RecordError, match="row 1"):
        load_routerbench(tmp_path, "mbpp")


def contaminated(path: Path, prompts: list[str]) -> None:
    path.write_text(
        "".join(
            json.dumps({"train_prompt": p.lower(), "eval_prompt": p, "train_idx": 1, "eval_idx": 0})
            + "\n"
            for p in prompts
        ),
        encoding="utf-8",
    )


def test_routellm_gsm8k_drops_contaminated_and_prices_tokens(tmp_path: Path) -> None:
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    with (folder / "gsm8k_responses.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "prompt",
                ROUTELLM_WEAK,
                ROUTELLM_STRONG,
                f"{ROUTELLM_WEAK}_response",
                f"{ROUTELLM_STRONG}_response",
            ]
        )
        writer.writerow(["x" * 40, "False", "True", "y" * 8, "z" * 9])
        writer.writerow(["leaked question", "True", "True", "a", "b"])
    contaminated(folder / "contaminated_prompts.jsonl", ["leaked question"])
    loaded = load_routellm(tmp_path, "gsm8k")
    assert loaded.dropped == 1 and len(loaded.records) == 1
    [record] = loaded.records
    weak, strong = record.outcomes[ROUTELLM_WEAK], record.outcomes[ROUTELLM_STRONG]
    assert (weak.score, strong.score) == (0.0, 1.0)
    assert weak.response == "y" * 8 and record.split is None and record.task == "gsm8k"
    # 40 chars = 10 tokens in; 8 chars = 2 out, 9 chars = 3 out (ceil of chars / 4)
    assert weak.cost_usd == Decimal("0.7") * (10 + 2) / 1_000_000  # Mixtral $0.7/M both ways
    assert strong.cost_usd == (Decimal(10) * 10 + Decimal(30) * 3) / 1_000_000  # $10/M, $30/M


def test_routellm_mmlu_reads_every_subject_without_text(tmp_path: Path) -> None:
    folder = tmp_path / "mmlu" / "responses"
    folder.mkdir(parents=True)
    for subject, rows in (
        ("anatomy", [("p1", "True", "True")]),
        ("virology", [("p2", "False", "True"), ("p3", "True", "False")]),
    ):
        with (folder / f"mmlu_{subject}.csv").open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["prompt", ROUTELLM_WEAK, ROUTELLM_STRONG])
            writer.writerows(rows)
    contaminated(tmp_path / "mmlu" / "contaminated_prompts.jsonl", ["p3"])
    loaded = load_routellm(tmp_path, "mmlu")
    assert [r.prompt for r in loaded.records] == ["p1", "p2"] and loaded.dropped == 1
    assert [r.task for r in loaded.records] == ["anatomy", "virology"]  # from the file names
    strong = loaded.records[0].outcomes[ROUTELLM_STRONG]
    assert strong.response is None
    assert strong.cost_usd == (Decimal(10) * 1 + Decimal(30) * 1) / 1_000_000  # 1 token each


def test_routellm_refuses_a_bad_boolean_and_an_unknown_task(tmp_path: Path) -> None:
    folder = tmp_path / "mmlu" / "responses"
    folder.mkdir(parents=True)
    (folder / "mmlu_x.csv").write_text(
        f"prompt,{ROUTELLM_WEAK},{ROUTELLM_STRONG}\np,maybe,True\n", encoding="utf-8"
    )
    with pytest.raises(RecordError, match="True or False"):
        load_routellm(tmp_path, "mmlu")
    with pytest.raises(RecordError, match="unknown"):
        load_routellm(tmp_path, "hellaswag")
