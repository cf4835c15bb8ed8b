"""The gateways bench/other_gateways.py compares: where each is installed, how it is
started in front of the simulator, and what a client sends it.

thrifty runs from this repository's environment.  The competitors live in their own
environments outside the repository (``--cache-dir``, default ``~/.cache/thrifty-bench``),
so installing them never touches thrifty's dependencies:

* LiteLLM's proxy: a separate venv with ``litellm[proxy]==<version>`` from PyPI;
* Portkey's open-source gateway: ``npm install @portkey-ai/gateway@<version>`` into its
  own prefix, run with ``node``.

Each is configured to forward to the simulator with nothing else on: no database, no
logging callbacks, no telemetry, no cost-map download, no console UI.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

LITELLM_VERSION = "1.108.6"  # newest tried whose [proxy] extra resolves from the PyPI here
PORTKEY_VERSION = "1.15.2"
# The hono packages at the versions Portkey's own package-lock.json pins: with the newer
# @hono/node-server that its "^1.3.3" range pulls in, every streamed answer fails with
# "TypeError: immutable" (Portkey-AI/gateway issue 1389).
PORTKEY_OVERRIDES = {"@hono/node-server": "1.13.5", "@hono/node-ws": "1.2.0", "hono": "4.9.7"}
DUMMY_KEY = "sk-bench-not-a-real-key"  # the simulator accepts any key
MODEL = "gpt-4o-mini"
INSTALL_TIMEOUT_S = 1200.0
_LOG_TAIL_LINES = 12


class Unavailable(Exception):
    """A gateway that cannot be installed or started; the message says exactly why."""


@dataclass(frozen=True)
class Installed:
    """A gateway ready to launch: its version and how to start it."""

    name: str
    version: str
    executable: Path


@dataclass(frozen=True)
class Launch:
    """One gateway process in front of one simulator."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready_path: str
    chat_url: str
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[Path, str] = field(default_factory=dict)


def log_tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-_LOG_TAIL_LINES:])


def clean_env() -> dict[str, str]:
    """The environment for every process: no provider keys, no proxies, loopback only."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_PROXY", "_proxy")) and not k.startswith("THRIFTY_")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _run_install(argv: list[str], what: str) -> None:
    print(f"installing {what} (once; it can take a few minutes)", file=sys.stderr, flush=True)
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"installing {what} failed: {exc}") from exc
    if done.returncode != 0:
        output = "\n".join(
            line
            for line in (done.stdout + done.stderr).splitlines()
            if not line.startswith("WARNING: Location")
        )
        raise Unavailable(f"installing {what} failed (exit {done.returncode}): {log_tail(output)}")


def ensure_litellm(cache_dir: Path, version: str, install: bool) -> Installed:
    """LiteLLM's proxy in its own venv under ``cache_dir`` (created on first use)."""
    home = cache_dir / f"litellm-{version}"
    executable = home / "bin" / "litellm"
    marker = home / ".installed"
    if not marker.exists():
        if not install:
            raise Unavailable(f"LiteLLM {version} is not installed in {home} (--no-install)")
        shutil.rmtree(home, ignore_errors=True)
        _run_install([sys.executable, "-m", "venv", str(home)], "a venv for LiteLLM")
        pip = [str(home / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        _run_install([*pip, f"litellm[proxy]=={version}"], f"litellm[proxy]=={version}")
        marker.write_text(version)
    if not executable.exists():
        raise Unavailable(f"{executable} is missing: delete {home} to reinstall")
    found = sorted(home.glob("lib/python*/site-packages/litellm-*.dist-info"))
    if not found:
        raise Unavailable(f"no litellm package in {home}: delete it to reinstall")
    return Installed("litellm", found[-1].name.removesuffix(".dist-info")[8:], executable)


def ensure_portkey(cache_dir: Path, version: str, install: bool) -> Installed:
    """Portkey's gateway in its own npm prefix under ``cache_dir``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise Unavailable("Portkey's gateway needs node and npm, and they are not on PATH")
    home = cache_dir / f"portkey-{version}"
    package = home / "node_modules" / "@portkey-ai" / "gateway"
    marker = home / ".installed"
    if not marker.exists():
        if not install:
            raise Unavailable(f"Portkey {version} is not installed in {home} (--no-install)")
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        manifest = {
            "private": True,
            "dependencies": {"@portkey-ai/gateway": version},
            "overrides": PORTKEY_OVERRIDES,
        }
        (home / "package.json").write_text(json.dumps(manifest, indent=2))
        npm_install = [npm, "install", "--prefix", str(home), "--no-audit", "--no-fund"]
        _run_install(npm_install, f"Portkey {version}")
        marker.write_text(version)
    server = package / "build" / "start-server.js"
    if not server.exists():
        raise Unavailable(f"{server} is missing: delete {home} to reinstall")
    installed = json.loads((package / "package.json").read_text())["version"]
    server_package = home / "node_modules" / "@hono" / "node-server" / "package.json"
    hono_server = json.loads(server_package.read_text())["version"]
    return Installed("portkey", f"{installed} (@hono/node-server {hono_server})", server)


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "absent"
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def thrifty_launch(port: int, upstream: str, workdir: Path) -> Launch:
    thrifty = str(Path(sys.executable).with_name("thrifty"))
    argv = [thrifty, "serve", "--port", str(port), "--openai-base-url", upstream]
    argv += ["--ledger", str(workdir / f"thrifty-{port}.db")]
    return Launch(
        name="thrifty",
        argv=argv,
        env=clean_env(),
        ready_path="/health",
        chat_url=f"http://127.0.0.1:{port}/v1/chat/completions",
        headers={"Authorization": f"Bearer {DUMMY_KEY}"},
    )


def litellm_config(upstream: str) -> str:
    """The proxy's config: one model entry pointing at the simulator, nothing else on.
    (JSON is YAML, so no YAML writer is needed.)"""
    config = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": upstream,
                    "api_key": DUMMY_KEY,
                },
            }
        ],
        "litellm_settings": {
            "telemetry": False,
            "set_verbose": False,
            "turn_off_message_logging": True,
            "callbacks": [],
            "success_callback": [],
            "failure_callback": [],
        },
        "general_settings": {"disable_spend_logs": True, "disable_error_logs": True},
    }
    return json.dumps(config, indent=2)


def litellm_launch(installed: Installed, port: int, upstream: str, workdir: Path) -> Launch:
    config = workdir / f"litellm-{port}.yaml"
    env = clean_env()
    env.update(
        {
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list
            "LITELLM_LOG": "ERROR",
            "LITELLM_MODE": "PRODUCTION",  # no .env loading
            "DISABLE_ADMIN_UI": "True",
            "NO_DOCS": "True",
        }
    )
    # It refuses to start without a master key; a fresh one per run, sent by the client.
    master_key = "sk-bench-" + secrets.token_hex(16)
    env["LITELLM_MASTER_KEY"] = master_key
    for database in ("DATABASE_URL", "REDIS_HOST", "REDIS_URL"):
        env.pop(database, None)
    argv = [str(installed.executable), "--config", str(config), "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--num_workers", "1", "--telemetry", "False"]
    return Launch(
        name="litellm",
        argv=argv,
        env=env,
        ready_path="/health/liveliness",
        chat_url=f"http://127.0.0.1:{port}/v1/chat/completions",
        headers={"Authorization": f"Bearer {master_key}"},
        files={config: litellm_config(upstream)},
    )


def portkey_launch(installed: Installed, port: int, upstream: str) -> Launch:
    node = shutil.which("node") or "node"
    env = clean_env()
    env["NODE_ENV"] = "production"
    return Launch(
        name="portkey",
        argv=[node, str(installed.executable), f"--port={port}", "--headless"],
        env=env,
        ready_path="/",
        chat_url=f"http://127.0.0.1:{port}/v1/chat/completions",
        headers={
            "Authorization": f"Bearer {DUMMY_KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream,
        },
    )
