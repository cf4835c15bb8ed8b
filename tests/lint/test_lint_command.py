"""``thrifty lint``: exit 0 when clean, 1 on findings, 2 on unreadable input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thrifty.cli import main


def write(path: Path, value: object) -> str:
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return str(path)


def test_findings_exit_one_and_name_file_path_code_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = write(tmp_path / "s.json", {"properties": {"reasoning": {"type": "string"}}})
    prompt = write(tmp_path / "p.txt", "Think step by step.")
    assert main(["lint", schema, "--prompt", prompt]) == 1
    out = capsys.readouterr().out
    assert f"{schema}:/properties/reasoning: OUT002 " in out
    assert f"{prompt}:line 1: PRM001 " in out
    assert "    fix: " in out and out.endswith("2 finding(s) in 2 file(s)\n")


def test_a_clean_schema_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = write(tmp_path / "s.json", {"properties": {"n": {"type": "integer"}}})
    assert main(["lint", schema]) == 0
    assert capsys.readouterr().out == "0 finding(s) in 1 file(s)\n"


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = write(tmp_path / "s.json", {"type": "array"})
    assert main(["lint", "--json", schema]) == 1
    (finding,) = json.loads(capsys.readouterr().out)
    assert finding["code"] == "OUT003" and finding["path"] == "" and finding["source"] == schema


@pytest.mark.parametrize(
    ("content", "message"), [("{not json", "not JSON"), (None, "No such file")]
)
def test_unreadable_input_exits_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "s.json"
    if content is not None:
        path.write_text(content)
    assert main(["lint", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_nothing_to_lint_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint"]) == 2
    assert "give a schema file" in capsys.readouterr().err
