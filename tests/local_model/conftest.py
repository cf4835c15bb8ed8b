"""The real-model group: every test here is marked ``local_model`` and shares one
llama.cpp server with SmolLM2-135M-Instruct, started once per session.  A missing
llama-cpp-python or GGUF file is an error with the install command, never a skip; run
the rest of the suite without this group with ``-m "not local_model"``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local_model.llama_server import LlamaServer, llama_server

_HERE = Path(__file__).parent


# A CPU model on a busy machine: the first test also waits for the server to start and
# warm up (about 6 s and 65 s measured on two shared cores under load).
TIMEOUT_S = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.local_model)
            item.add_marker(pytest.mark.timeout(TIMEOUT_S))


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with llama_server(tmp_path_factory.mktemp("llama")) as server:
        yield server
