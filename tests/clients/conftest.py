"""Runs one ``tests/clients/scripts/<library>_check.py`` in ``.venv-clients`` against a
gateway served on a real loopback port in this process (the simulator upstream), and hands
back its JSON summary; the gateway's ledger is read directly."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import Gateway, make_settings
from thrifty.gateway import create_app
from thrifty.runtime import Thrifty
from thrifty.serving import start_server

ROOT = Path(__file__).resolve().parents[2]
CLIENTS_PYTHON = ROOT / ".venv-clients" / "bin" / "python"
SCRIPTS = Path(__file__).parent / "scripts"
ROUTED_TASK = "extract"  # the scripts send x-thrifty-task: extract for the Claude cases
CLAUDE = "claude-sonnet-4-6"
SCRIPT_SECONDS = 400  # imports alone take tens of seconds on a busy 2-core machine
# Every library's telemetry, tracing and remote downloads off; no provider key of the shell.
QUIET_ENV = {
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "OPENAI_API_KEY": "app-key",
    "ANTHROPIC_API_KEY": "app-key",
}


@dataclass(frozen=True)
class Summary:
    cases: list[dict[str, Any]]
    outbound: list[str]  # connections the script tried beyond loopback (refused)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(tmp_path, routing={"tasks": {ROUTED_TASK: CLAUDE}})
    thrifty = Thrifty(settings, environ={})
    server = await start_server(create_app(thrifty))
    try:
        yield Gateway(url=server.url, thrifty=thrifty, server=server)
    finally:
        await server.stop()


async def run_check(library: str, gateway: Gateway, home: Path) -> Summary:
    """Run ``<library>_check.py`` against ``gateway``; fail with its stderr if it crashes."""
    if not CLIENTS_PYTHON.exists():
        pytest.fail(
            f"{CLIENTS_PYTHON.parent.parent} is missing: run scripts/clients-venv.sh to install "
            "the client libraries these tests drive (scripts/test.sh does it)"
        )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **QUIET_ENV}
    process = await asyncio.create_subprocess_exec(
        str(CLIENTS_PYTHON),
        str(SCRIPTS / f"{library}_check.py"),
        gateway.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=home,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), SCRIPT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"{library}_check.py took more than {SCRIPT_SECONDS} s")
    if process.returncode != 0:
        pytest.fail(f"{library}_check.py exited {process.returncode}:\n{err.decode()[-4000:]}")
    data = json.loads(out.decode().strip().splitlines()[-1])
    return Summary(cases=data["cases"], outbound=data["outbound"])
