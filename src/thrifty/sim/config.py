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

    Batches (``/v1/batches``, ``/v1/messages/batches``): every line is done
    ``batch_duration_s`` simulated seconds after creation (spread evenly over that time),
    a batch still running after ``batch_window_s`` expires, and simulated time runs
    ``batch_time_scale`` times faster than the clock (``thrifty.sim.batch_jobs``).

    The Responses API keeps the newest ``responses_max_stored`` responses it answered
    (``thrifty.sim.stored_responses``).
    """

    latency_ms: float = 0.0
    stream_chunk_delay_ms: float = 0.0
    openai_cache_min_tokens: int = 1024
    anthropic_cache_min_tokens: int = 1024
    cache_max_entries: int = 100_000
    batch_duration_s: float = 2.0
    batch_window_s: float = 86_400.0
    batch_time_scale: float = 1.0
    responses_max_stored: int = 10_000
