"""``thrifty tokens FILE --model M``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from thrifty.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["tokens", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_text_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("hello world")
    code, out, _ = run(capsys, str(path), "--model", "gpt-4o")
    assert code == 0
    assert out.strip() == "2 tokens (text, o200k_base, exact)"


def test_request_body_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
    code, out, _ = run(capsys, str(path), "--model", "gpt-4o", "--json")
    assert code == 0
    assert json.loads(out) == {
        "tokens": 8,
        "exact": True,
        "method": "o200k_base",
        "model": "gpt-4o",
        "input": "request",
    }


def test_message_list_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('[{"role": "user", "content": "hi"}]'))
    code, out, _ = run(capsys, "-", "--model", "claude-haiku-4-5", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["input"] == "messages" and result["exact"] is False


def test_text_that_looks_like_json_is_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.txt"
    path.write_text("[not json")
    code, out, _ = run(capsys, str(path), "--model", "gpt-4o")
    assert code == 0 and "(text," in out


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path / "absent.txt"), "--model", "gpt-4o")
    assert code == 2
    assert "cannot read" in err


def test_the_command_counts_with_the_quickest_counter_to_load(tmp_path: Path) -> None:
    """One count, then exit: bpe-openai's tokenizer (0.25 s to load), not fastokens
    (seconds)."""
    path = tmp_path / "prompt.txt"
    path.write_text("hello world")
    code = (
        "import sys; from thrifty.cli import main; "
        f"code = main(['tokens', {str(path)!r}, '--model', 'gpt-4o']); "
        "assert code == 0; assert 'fastokens' not in sys.modules, 'fastokens loaded'; "
        "assert 'bpe_openai._bindings' in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 tokens (text, o200k_base, exact)"
