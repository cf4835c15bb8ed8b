"""``thrifty prices MODEL``: the rates thrifty uses, as text and JSON, with overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thrifty.cli import main


@pytest.fixture(autouse=True)
def _no_local_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # load_settings() reads ./thrifty.toml when present: run from an empty directory.
    monkeypatch.chdir(tmp_path)


def _rate_line(text: str, label: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(label + " "))
    return line[len(label) :].split()


def test_prices_text_shows_gpt_4o_rates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prices", "gpt-4o"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("gpt-4o")
    assert "USD per 1M tokens" in out
    # First column is the standard tier.
    assert _rate_line(out, "input")[0] == "$2.5"
    assert _rate_line(out, "output")[0] == "$10"
    assert _rate_line(out, "cache read")[0] == "$1.25"


def test_prices_json_has_rates_as_strings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prices", "gpt-4o", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "gpt-4o"
    assert data["input"] == "2.5"
    assert data["output"] == "10"
    assert data["cache_read"] == "1.25"
    for key in ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h"):
        assert isinstance(data[key], str), key


def test_prices_unknown_model_exits_1_with_unpriced_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["prices", "no-such-model-xyz"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no-such-model-xyz" in captured.err
    assert "unpriced" in captured.err
    assert "Traceback" not in captured.err


def test_prices_unknown_model_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prices", "no-such-model-xyz", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["priced"] is False
    assert data["model"] == "no-such-model-xyz"
    assert "unpriced" in data["message"]


def test_prices_override_from_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "custom.toml"
    config.write_text(
        '[prices."my-finetune"]\n'
        'input = "0.30"\n'
        'output = "1.20"\n'
        'cache_read = "0.03"\n'
        "\n"
        '[prices."gpt-4o"]\n'
        'input = "1.75"\n'
        'output = "7"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "prices", "my-finetune", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "override"
    assert (data["input"], data["output"], data["cache_read"]) == ("0.30", "1.20", "0.03")

    # An override beats the bundled snapshot for a known model.
    assert main(["--config", str(config), "prices", "gpt-4o", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "override"
    assert (data["input"], data["output"]) == ("1.75", "7")
    assert data["cache_read"] == "1.75"  # defaults to the input rate

    assert main(["--config", str(config), "prices", "my-finetune"]) == 0
    out = capsys.readouterr().out
    assert _rate_line(out, "input")[0] == "$0.3"
    assert _rate_line(out, "output")[0] == "$1.2"
    assert _rate_line(out, "cache read")[0] == "$0.03"


def test_prices_without_config_does_not_see_the_override(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["prices", "my-finetune"]) == 1
    assert "unpriced" in capsys.readouterr().err


def test_prices_missing_config_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["--config", str(missing), "prices", "gpt-4o"]) == 2
    err = capsys.readouterr().err
    assert "config file not found" in err
    assert str(missing) in err
    assert "Traceback" not in err


def test_prices_invalid_config_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[prices."m"]\ninput = "-1"\noutput = "1"\n', encoding="utf-8")
    assert main(["--config", str(config), "prices", "m"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thrifty: error:")
    assert "Traceback" not in err


def test_prices_shows_service_tiers_and_tool_fees(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prices", "o3", "--at", "2026-11-01"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "standard" in line).split()
    assert header == ["standard", "batch", "fast", "flex", "priority"]
    # o3 on 2026-11-01: standard $2 / $8, batch $1 / $4, flex $1 / $4, priority $3.5 / $14.
    assert _rate_line(out, "input") == ["$2", "$1", "$3.5", "$1", "$3.5"]
    assert _rate_line(out, "output") == ["$8", "$4", "$14", "$4", "$14"]
    assert "server tools, USD per 1,000 uses: file_search $2.5, web_search $10" in out
    assert "service tiers with their own rates: fast, flex, priority" in out
    assert "2025-06-10" in out  # the price change date is listed

    assert main(["prices", "o3", "--at", "2026-11-01", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["service_tiers"]["flex"]["input"] == "1"
    assert data["service_tiers"]["priority"]["output"] == "14"
    assert data["tool_fees_per_1k"] == {"file_search": "2.5", "web_search": "10"}
    assert "2025-06-10" in data["price_changes"]
    assert data["as_of"] == "2026-11-01"


def test_prices_at_a_date_before_a_price_change(capsys: pytest.CaptureFixture[str]) -> None:
    # o3 before its 2025-06-10 price cut: $10 in, $40 out; no tier prices yet.
    assert main(["prices", "o3", "--at", "2025-06-01", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["input"], data["output"]) == ("10", "40")
    assert data["service_tiers"] == {}
    assert main(["prices", "o3", "--at", "June 1st"]) == 2
    assert "--at must be a date" in capsys.readouterr().err


def test_prices_shows_override_tiers_and_tool_fee(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "custom.toml"
    config.write_text(
        '[prices."claude-sonnet-4"]\n'
        'input = "3"\n'
        'output = "15"\n'
        'cache_read = "0.3"\n'
        'web_search_per_1k = "10"\n'
        'tiers = [{above_input_tokens = 200000, input = "6", output = "22.5"}]\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "prices", "claude-sonnet-4"]) == 0
    out = capsys.readouterr().out
    assert "> 200,000 in" in out
    # standard, > 200k, batch (50% off), batch > 200k
    assert _rate_line(out, "input") == ["$3", "$6", "$1.5", "$3"]
    assert _rate_line(out, "cache read") == ["$0.3", "$0.6", "$0.15", "$0.3"]
    assert _rate_line(out, "output") == ["$15", "$22.5", "$7.5", "$11.25"]
    assert "web_search $10" in out

    assert main(["--config", str(config), "prices", "claude-sonnet-4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "override"
    assert data["long_context_threshold"] == 200_000
    assert data["long_context_tiers"] == [
        {
            "above_input_tokens": 200_000,
            "input": "6",
            "cache_read": "0.6",
            "cache_write_5m": "6",
            "cache_write_1h": "6",
            "output": "22.5",
        }
    ]
    assert data["tool_fees_per_1k"] == {"web_search": "10"}


def test_prices_rejects_descending_override_tiers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[prices."m"]\ninput = "1"\noutput = "1"\n'
        'tiers = [{above_input_tokens = 2000, input = "2", output = "2"},'
        ' {above_input_tokens = 1000, input = "3", output = "3"}]\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "prices", "m"]) == 2
    err = capsys.readouterr().err
    assert "ascending order of above_input_tokens" in err
    assert "Traceback" not in err
