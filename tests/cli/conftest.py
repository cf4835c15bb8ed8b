"""Helpers to run ``thrifty`` as a real process on loopback, always bounded and reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from thrifty.serving import free_port

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 15.0


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    url: str
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self, timeout: float = EXIT_TIMEOUT_S) -> int:
        """SIGTERM, then wait (bounded) for the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=timeout)


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment (the autouse fixture already removed provider keys and
    THRIFTY_* settings), plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("THRIFTY_") and k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _wait_ready(proc: subprocess.Popen[bytes], url: str, path: str, deadline: float) -> None:
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"process exited early with code {proc.returncode}")
            try:
                client.get(url + path)
                return
            except httpx.TransportError:
                time.sleep(0.05)
    raise AssertionError(f"{url} did not come up within {START_TIMEOUT_S}s")


@contextmanager
def thrifty_process(
    args: Sequence[str],
    *,
    port: int,
    cwd: Path,
    env: dict[str, str],
    ready_path: str = "/health",
) -> Iterator[Proc]:
    """Run ``python -m thrifty.cli ARGS`` and yield once ``ready_path`` answers.  The
    process is killed in any case on the way out."""
    stderr_path = cwd / f"thrifty-{port}.stderr"
    stdout_path = cwd / f"thrifty-{port}.stdout"
    with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "thrifty.cli", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://{HOST}:{port}"
    proc = Proc(popen=popen, url=url, stderr_path=stderr_path)
    try:
        try:
            _wait_ready(popen, url, ready_path, time.monotonic() + START_TIMEOUT_S)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; stderr:\n{proc.stderr()}") from None
        yield proc
    finally:
        if popen.poll() is None:
            popen.kill()
        popen.wait(timeout=EXIT_TIMEOUT_S)


def pick_port() -> int:
    return free_port(HOST)
