"""``thrifty eval`` lists every evaluation, each reachable from the top-level CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from thrifty.cli import main


@pytest.mark.parametrize("name", ["cache", "route"])
def test_each_evaluation_is_a_subcommand(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["eval", name, "--help"])
    assert exit_.value.code == 0
    assert f"usage: thrifty eval {name}" in capsys.readouterr().out


def test_a_bad_records_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "records.jsonl"
    bad.write_text("{not json\n")
    assert main(["eval", "route", "--records", str(bad)]) == 2
    assert "records.jsonl" in capsys.readouterr().err
