"""``thrifty cache stats | clear``: the exact cache's store, counts and savings.

``stats`` reads three places and says which figure comes from where: the store (entries
and bytes, every task), the counts the gateway and library processes save there (hits,
misses, bypasses, entries stored or refused, store errors) and the ledger (requests
answered from the cache and what they saved, exact).  ``clear`` drops every entry, or one
task's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thrifty.errors import ThriftyError

if TYPE_CHECKING:
    from thrifty.config import Settings

__all__ = ["add_parser", "cache_stats", "clear_cache"]


@dataclass(frozen=True, slots=True)
class CacheReport:
    path: Path
    task: str | None
    entries: int
    bytes: int
    max_entries: int
    max_bytes: int
    counts: dict[str, int] = field(default_factory=dict)
    hits_booked: int = 0  # ledger rows answered from the cache
    saved_usd: Decimal | None = None  # their savings (None: none known)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "task": self.task,
            "store": {
                "entries": self.entries,
                "bytes": self.bytes,
                "max_entries": self.max_entries,
                "max_bytes": self.max_bytes,
            },
            "counts": self.counts,
            "ledger": {
                "hits": self.hits_booked,
                "saved_usd": None if self.saved_usd is None else str(self.saved_usd),
            },
        }

    def render(self) -> str:
        from thrifty.ledger.money import usd_text

        scope = f"task {self.task!r}" if self.task is not None else "every task"
        saved = "-" if self.saved_usd is None else "$" + usd_text(self.saved_usd)
        lines = [
            f"exact cache {self.path} ({scope})",
            f"  store (every task): {self.entries} of {self.max_entries} entries, "
            f"{_size(self.bytes)} of {_size(self.max_bytes)}",
            f"  ledger: {self.hits_booked} requests answered from the cache, saved {saved}",
            "  counts: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()),
        ]
        return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n} {unit}"
        n //= 1024
    return f"{n} GiB"


def _require_sqlite(settings: Settings) -> None:
    if settings.levers.cache.backend != "sqlite":
        raise ThriftyError(
            "the exact cache is configured in memory (levers.cache.backend = 'memory'): it "
            "lives and dies with its process, there is nothing to inspect or clear"
        )


def cache_stats(settings: Settings, task: str | None = None) -> CacheReport:
    """The store's size, the saved counts and the ledger's figures (never creates a file)."""
    _require_sqlite(settings)
    ledger = Path(settings.ledger.path)
    from thrifty.levers.fewer_calls.cache_store import cache_path

    has_store = cache_path(settings).exists()  # never create a store just to say it is empty
    return asyncio.run(_stats(settings, task, has_store, ledger if ledger.exists() else None))


async def _stats(
    settings: Settings, task: str | None, has_store: bool, ledger: Path | None
) -> CacheReport:
    from thrifty.levers.fewer_calls.cache_store import (
        ALL_TASKS,
        OUTCOMES,
        counter_key,
        sqlite_store,
    )

    cache, counters = sqlite_store(settings)
    entries = size = 0
    counts = dict.fromkeys(OUTCOMES, 0)
    if has_store:
        async with cache, counters:
            stats = await cache.stats()
            entries, size = stats.entries, stats.bytes
            for outcome in OUTCOMES:
                counts[outcome] = await counters.get(
                    counter_key(outcome, ALL_TASKS if task is None else task)
                )
    hits, saved = (0, None) if ledger is None else await _booked(ledger, task)
    return CacheReport(
        cache.path,
        task,
        entries,
        size,
        cache.max_entries,
        cache.max_bytes,
        counts,
        hits,
        saved,
    )


async def _booked(ledger: Path, task: str | None) -> tuple[int, Decimal | None]:
    from thrifty.ledger import SqliteLedgerReader
    from thrifty.ledger.money import pico_to_usd

    groups = await SqliteLedgerReader(ledger).summary(["lever", "task"])
    hits, saved = 0, None
    for group in groups:
        lever, group_task = group.key
        if lever != "cache" or (task is not None and group_task != task):
            continue
        hits += group.requests
        if group.saved_pusd is not None:
            saved = (saved or Decimal(0)) + pico_to_usd(group.saved_pusd)
    return hits, saved


def clear_cache(settings: Settings, task: str | None = None) -> int:
    """Drop every entry (or ``task``'s); how many were dropped."""
    from thrifty.levers.fewer_calls.cache_store import sqlite_store

    _require_sqlite(settings)
    cache, _ = sqlite_store(settings)
    if not cache.path.exists():
        return 0

    async def clear() -> int:
        async with cache:
            return await cache.clear(tag=task)

    return asyncio.run(clear())


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.cache_command == "clear":
        from thrifty.levers.fewer_calls.cache_store import cache_path

        dropped = clear_cache(settings, args.task)
        scope = f" of task {args.task!r}" if args.task else ""
        print(f"dropped {dropped} entries{scope} from {cache_path(settings)}")
        return 0
    report = cache_stats(settings, args.task)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.render())
    return 0


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    cache: argparse.ArgumentParser = sub.add_parser(
        "cache", help="the exact cache: stats, clear", parents=parents
    )
    cache.add_argument("--ledger", help="ledger path; the cache store lives next to it")
    actions = cache.add_subparsers(dest="cache_command", required=True)
    stats = actions.add_parser("stats", help="entries, hits, misses and savings")
    stats.add_argument("--task", help="one task's counts and savings")
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    clear = actions.add_parser("clear", help="drop every entry, or one task's")
    clear.add_argument("--task", help="drop only this task's entries")
    return cache
