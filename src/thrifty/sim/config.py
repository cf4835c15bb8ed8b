"""Simulator settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimConfig:
    """How the simulated upstream behaves.

    ``latency_ms`` is added before answering (non-stream) or before the first byte (stream);
    ``stream_chunk_delay_ms`` is slept between streamed content chunks.  The cache minimums
    are the prompt sizes below which no prompt caching happens (1024 for both providers'
    common models).  ``cache_max_entries`` bounds each in-memory prompt cache (LRU).
    """

    latency_ms: float = 0.0
    stream_chunk_delay_ms: float = 0.0
    openai_cache_min_tokens: int = 1024
    anthropic_cache_min_tokens: int = 1024
    cache_max_entries: int = 100_000
