"""The settings of a gateway with a local tier: a local provider (``llama``, ``local =
true``, serving ``smollm2``) and a hosted OpenAI-compatible one (``openai``, ``gpt-*``, on
the simulator).  Shared by the gateway tests (a simulator as the local server), the
real-model tests and bench/local_tier.py (llama.cpp as the local server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thrifty.config import Settings

LOCAL_MODEL = "smollm2"
HOSTED_ENVIRON = {"OPENAI_API_KEY": "sim-key"}  # the simulator takes any key


def tiered_settings(
    ledger: Path, *, local_url: str, hosted_url: str, tasks: dict[str, Any], **extra: Any
) -> Settings:
    """``local_url`` and ``hosted_url`` are OpenAI base URLs (up to ``/v1``)."""
    return Settings(
        ledger={"path": str(ledger)},
        simulate=False,
        providers={
            "llama": {
                "dialect": "openai",
                "base_url": local_url,
                "models": [LOCAL_MODEL],
                "local": True,
            },
            "openai": {
                "dialect": "openai",
                "base_url": hosted_url,
                "api_key_env": "OPENAI_API_KEY",
                "models": ["gpt-*"],
                "price_provider": "openai",
            },
        },
        tasks=tasks,
        **extra,
    )
