#!/usr/bin/env bash
# Creates .venv-clients: the client libraries that tests/clients/ runs against the gateway
# (langchain, pydantic-ai, openai-agents, litellm, instructor, llama-index), pinned in
# tests/clients/requirements.txt.  Kept apart from .venv so their pins never touch thrifty's.
# Idempotent: does nothing when the venv was built from the same requirements (hash stamp).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv-clients
REQUIREMENTS=tests/clients/requirements.txt
STAMP="$VENV/requirements.sha256"
wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
  echo "== $VENV is up to date"
  exit 0
fi
echo "== building $VENV from $REQUIREMENTS"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
echo "$wanted" >"$STAMP"
