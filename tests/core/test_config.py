"""Settings: TOML file, THRIFTY_* environment (wins over the file), CLI overrides (win over
both), and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from thrifty.config import load_settings
from thrifty.errors import ConfigError

TOML = """
[gateway]
port = 9001

[ledger]
path = "from-file.db"

[routing.tasks]
summarize = "cheap"

[routing.aliases]
cheap = "gpt-4o-mini"

[prices."my-model"]
input = "0.5"
output = "1.5"

[providers.local]
dialect = "openai"
base_url = "http://127.0.0.1:11434/v1/"
models = ["llama*"]
local = true
"""


def write(tmp_path: Path, text: str = TOML) -> Path:
    path = tmp_path / "thrifty.toml"
    path.write_text(text)
    return path


def test_file_values(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path))
    assert settings.gateway.port == 9001
    assert settings.ledger.path == Path("from-file.db")
    assert settings.routing.tasks == {"summarize": "cheap"}
    assert str(settings.prices["my-model"].input) == "0.5"
    local = settings.providers["local"]
    assert local.base_url == "http://127.0.0.1:11434/v1"  # trailing slash dropped
    assert local.local and list(settings.providers) == ["local"]


def test_environment_beats_file_and_flags_beat_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THRIFTY_GATEWAY__PORT", "9002")
    monkeypatch.setenv("THRIFTY_OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    settings = load_settings(write(tmp_path))
    assert settings.gateway.port == 9002
    assert settings.openai_base_url == "http://127.0.0.1:1/v1"
    assert settings.ledger.path == Path("from-file.db")
    flagged = load_settings(write(tmp_path), gateway={"port": 9003, "host": None})
    assert flagged.gateway.port == 9003
    assert flagged.gateway.host == "127.0.0.1"  # None means "flag not given"


def test_config_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THRIFTY_CONFIG", str(write(tmp_path)))
    assert load_settings().gateway.port == 9001


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.gateway.port == 8787
    assert set(settings.providers) == {"openai", "anthropic"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[gateway\nport = 1", "invalid TOML"),
        ("[gateway]\nprot = 1", "prot"),
        ("[gateway]\nport = 70000", "port"),
        ('[prices.m]\ninput = "-1"\noutput = "1"', "input"),
        ('[providers.x]\ndialect = "grpc"\nbase_url = "http://h"', "dialect"),
        ('[providers.x]\ndialect = "openai"\nbase_url = "ftp://h"', "base_url"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(write(tmp_path, text))


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_simulator_is_automatic_without_keys(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""))
    assert settings.uses_simulator({})
    assert not settings.uses_simulator({"OPENAI_API_KEY": "k"})
    assert not settings.uses_simulator({"ANTHROPIC_API_KEY": "k"})
    overridden = load_settings(write(tmp_path, 'openai_base_url = "http://127.0.0.1:9/v1"'))
    assert not overridden.uses_simulator({})
    forced = load_settings(write(tmp_path, "simulate = true"))
    assert forced.uses_simulator({"OPENAI_API_KEY": "k"})


def test_a_configured_keyless_provider_is_a_real_upstream(tmp_path: Path) -> None:
    """Defect: a vLLM / llama.cpp provider with a base_url and no key was silently replaced
    by the simulator ("no provider API key found (none configured)")."""
    keyless = load_settings(
        write(
            tmp_path,
            '[providers.vllm]\ndialect = "openai"\nbase_url = "http://127.0.0.1:8000/v1"\n',
        )
    )
    assert not keyless.uses_simulator({})
    forced = keyless.model_copy(update={"simulate": True})
    assert forced.uses_simulator({})


LEVERS_TOML = """
[routing.aliases]
cheap = "gpt-4o-mini"

[levers.output]
enabled = true
max_output_tokens = 800

[tasks.summarize]
model = "cheap"

[tasks.summarize.output]
max_output_tokens = 120

[tasks.chat]
output = { enabled = false }
"""


def test_lever_defaults_and_per_task_overrides(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, LEVERS_TOML))
    assert settings.task_routes() == {"summarize": "cheap"}
    summarize = settings.levers_for("summarize").output
    assert (summarize.enabled, summarize.max_output_tokens) == (True, 120)  # key by key
    assert settings.levers_for("chat").output.enabled is False
    other = settings.levers_for("anything-else").output
    assert (other.enabled, other.max_output_tokens) == (True, 800)
    assert settings.levers_for(None) == settings.levers


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[levers.nosuch]\nenabled = true\n", "nosuch"),
        ("[tasks.t.nosuch]\nx = 1\n", "unknown key 'nosuch'"),
        ("[tasks.t]\noutput = 3\n", "must be a table"),
        ("[tasks.t.output]\nmax_output_tokens = -1\n", "greater than 0"),
        ("[tasks.t.output]\nmax_tokens = 5\n", "max_tokens"),
        (
            '[routing.tasks]\nt = "a"\n[tasks.t]\nmodel = "b"\n',
            "routed twice",
        ),
    ],
)
def test_bad_lever_settings_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))
