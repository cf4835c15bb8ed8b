"""``freeze_startup_heap``: what is alive when the gateway starts leaves the cyclic
collector's reach, and young collections run less often; cycles are still collected."""

from __future__ import annotations

import gc
import weakref

from thrifty.serving import GC_THRESHOLDS, freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_the_startup_heap_is_frozen_and_young_collections_are_rarer() -> None:
    thresholds = gc.get_threshold()
    before = gc.get_freeze_count()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > before + 1000  # this test run's modules, at least
        assert gc.get_threshold() == (*GC_THRESHOLDS, thresholds[2])
        cycle = Node()
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None  # made after the freeze: still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
