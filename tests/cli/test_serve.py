"""``thrifty serve`` as a real process: simulator fallback, upstream override, SIGTERM."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.cli.conftest import HOST, clean_env, pick_port, thrifty_process
from thrifty.ledger import read_rows

# thrifty serve shuts down gracefully on SIGTERM and exits 0.
CLEAN_EXIT = (0,)

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}


def test_serve_without_keys_uses_builtin_simulator(tmp_path: Path) -> None:
    ledger = tmp_path / "x.db"
    port = pick_port()
    env = clean_env(THRIFTY_SIMULATOR__PORT="0")
    args = ["serve", "--host", HOST, "--port", str(port), "--ledger", str(ledger)]
    with thrifty_process(args, port=port, cwd=tmp_path, env=env) as proc:
        stderr = proc.stderr()
        assert "simulator" in stderr
        assert "no provider API key" in stderr
        with httpx.Client(timeout=10.0) as client:
            response = client.post(
                proc.url + "/v1/chat/completions",
                json=CHAT,
                headers={"x-thrifty-task": "cli-e2e"},
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["choices"][0]["message"]["content"]
        request_id = response.headers["x-thrifty-request-id"]
        assert response.headers["x-thrifty-model"] == "gpt-4o-mini"

        code = proc.terminate()
        stderr = proc.stderr()
        assert code in CLEAN_EXIT, stderr
        assert "Traceback" not in stderr

    # The ledger was closed by the lifespan shutdown: SQLite removes the WAL file when the
    # last connection closes cleanly (it stays behind after a hard kill).
    assert not ledger.with_name(ledger.name + "-wal").exists()
    rows = read_rows(ledger)
    assert [r.request_id for r in rows] == [request_id]
    row = rows[0]
    assert row.status == 200
    assert row.task == "cli-e2e"
    assert row.model == "gpt-4o-mini"
    assert row.usage.input_tokens > 0
    assert row.usage.output_tokens > 0
    assert row.cost_usd is not None and row.cost_usd > 0


def test_serve_with_openai_base_url_uses_that_upstream(tmp_path: Path) -> None:
    sim_port = pick_port()
    with thrifty_process(
        ["sim", "--host", HOST, "--port", str(sim_port)],
        port=sim_port,
        cwd=tmp_path,
        env=clean_env(),
    ) as sim:
        with httpx.Client(timeout=10.0) as client:
            before = client.get(sim.url + "/_sim/stats").json()["requests"]

        ledger = tmp_path / "x.db"
        port = pick_port()
        args = [
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--ledger",
            str(ledger),
            "--openai-base-url",
            sim.url + "/v1",
        ]
        env = clean_env(THRIFTY_SIMULATOR__PORT="0")
        with thrifty_process(args, port=port, cwd=tmp_path, env=env) as gateway:
            with httpx.Client(timeout=10.0) as client:
                response = client.post(gateway.url + "/v1/chat/completions", json=CHAT)
                assert response.status_code == 200, response.text
                after = client.get(sim.url + "/_sim/stats").json()
            assert after["requests"] == before + 1
            assert after["by_route"].get("/v1/chat/completions") == 1

            code = gateway.terminate()
            stderr = gateway.stderr()
            assert code in CLEAN_EXIT, stderr
            assert "simulator" not in stderr.lower()
            assert "Traceback" not in stderr

        assert not ledger.with_name(ledger.name + "-wal").exists()
        rows = read_rows(ledger)
        assert len(rows) == 1
        assert rows[0].status == 200


def _serve_once(
    tmp_path: Path, *extra: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    port = pick_port()
    return subprocess.run(
        [sys.executable, "-m", "thrifty.cli", "serve", "--host", HOST, "--port", str(port), *extra],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_serve_unusable_ledger_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the ledger's directory should be", encoding="utf-8")
    ledger = blocker / "x.db"
    result = _serve_once(
        tmp_path, "--ledger", str(ledger), env=clean_env(THRIFTY_SIMULATOR__PORT="0")
    )
    assert result.returncode == 2, result.stderr
    assert "thrifty: error:" in result.stderr
    assert str(blocker) in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_simulator_port_taken_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        sim_port = taken.getsockname()[1]
        result = _serve_once(
            tmp_path,
            "--ledger",
            str(tmp_path / "x.db"),
            env=clean_env(THRIFTY_SIMULATOR__PORT=str(sim_port)),
        )
    assert result.returncode == 2, result.stderr
    assert "thrifty: error:" in result.stderr
    assert "simulator" in result.stderr
    assert str(sim_port) in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    result = subprocess.run(
        [sys.executable, "-m", "thrifty.cli", "--config", str(missing), "serve"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "config file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_gateway_port_taken_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "thrifty.cli", "serve", "--host", HOST, "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(THRIFTY_SIMULATOR__PORT="0"),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 3, result.stderr
    assert f"could not listen on {HOST}:{port}" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_beyond_loopback_without_keys_refuses_with_the_fix(tmp_path: Path) -> None:
    # Refused before binding: nothing listens on 0.0.0.0.
    result = _serve_once(
        tmp_path,
        "--host",
        "0.0.0.0",
        "--ledger",
        str(tmp_path / "x.db"),
        env=clean_env(THRIFTY_SIMULATOR__PORT="0"),
    )
    assert result.returncode == 2, result.stderr
    assert "thrifty: error: refusing to listen on 0.0.0.0" in result.stderr
    assert "thrifty keys create --tenant NAME" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_a_key_requires_it_and_books_its_tenant(tmp_path: Path) -> None:
    ledger = tmp_path / "x.db"
    keys_args = ["keys", "--ledger", str(ledger), "create", "--tenant", "acme"]
    created = subprocess.run(
        [sys.executable, "-m", "thrifty.cli", *keys_args],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    port = pick_port()
    env = clean_env(THRIFTY_SIMULATOR__PORT="0")
    args = ["serve", "--host", HOST, "--port", str(port), "--ledger", str(ledger)]
    with thrifty_process(args, port=port, cwd=tmp_path, env=env) as proc:
        assert "gateway keys required (1 active" in proc.stderr()
        with httpx.Client(timeout=10.0, base_url=proc.url) as client:
            refused = client.post("/v1/chat/completions", json=CHAT)
            assert refused.status_code == 401
            served = client.post(
                "/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {key}"}
            )
            assert served.status_code == 200, served.text
        assert proc.terminate() in CLEAN_EXIT
    assert [(r.status, r.tenant) for r in read_rows(ledger)] == [(200, "acme")]


def test_serve_takes_config_after_the_command_and_names_it(tmp_path: Path) -> None:
    """`thrifty serve --config my.toml` was rejected (`--config` only worked before the
    subcommand); start-up now also names the config file it loaded."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the ledger's directory should be", encoding="utf-8")
    config = tmp_path / "my.toml"
    config.write_text(f'[ledger]\npath = "{blocker / "x.db"}"\n', encoding="utf-8")
    result = _serve_once(tmp_path, "--config", str(config), env=clean_env())
    assert result.returncode == 2, result.stderr
    assert f"config: {config}" in result.stderr
    assert str(blocker) in result.stderr  # the ledger path came from that file
