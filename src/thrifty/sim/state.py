"""Per-app simulator state: caches, queued faults, counters.  Lives on ``app.state.sim``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thrifty.sim.cache import AnthropicPromptCache, OpenAIPrefixCache
from thrifty.sim.config import SimConfig
from thrifty.sim.dialect import Caches
from thrifty.sim.faults import FaultQueue
from thrifty.sim.stored_responses import ResponseStore


@dataclass(slots=True)
class Stats:
    """Counts of upstream calls (chat and model-list routes; not /health or /_sim)."""

    requests: int = 0
    by_route: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    streams: int = 0

    def hit(self, route: str) -> None:
        self.requests += 1
        self.by_route[route] = self.by_route.get(route, 0) + 1

    def status(self, code: int) -> None:
        key = str(code)
        self.by_status[key] = self.by_status.get(key, 0) + 1

    def fault(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_route": dict(self.by_route),
            "by_status": dict(self.by_status),
            "faults": dict(self.faults),
            "streams": self.streams,
        }

    def reset(self) -> None:
        self.requests = 0
        self.streams = 0
        self.by_route.clear()
        self.by_status.clear()
        self.faults.clear()


@dataclass(slots=True)
class SimState:
    config: SimConfig
    clock: Callable[[], float]
    caches: Caches
    responses: ResponseStore  # the Responses API's stored responses
    faults: FaultQueue = field(default_factory=FaultQueue)
    stats: Stats = field(default_factory=Stats)

    @classmethod
    def build(cls, config: SimConfig, clock: Callable[[], float] | None = None) -> SimState:
        clock = clock or time.monotonic
        caches = Caches(
            openai=OpenAIPrefixCache(config.openai_cache_min_tokens, config.cache_max_entries),
            anthropic=AnthropicPromptCache(
                config.anthropic_cache_min_tokens, config.cache_max_entries, clock
            ),
        )
        responses = ResponseStore(config.responses_max_stored, clock)
        return cls(config=config, clock=clock, caches=caches, responses=responses)
