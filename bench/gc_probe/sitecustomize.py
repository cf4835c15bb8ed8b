"""The cyclic garbage collector's share of a gateway's CPU, for bench/concurrency.py.

Put this directory first on PYTHONPATH; every ``thrifty serve`` process started with it
(the simulator and the load generator are left alone) appends, every 5 seconds, its
process CPU seconds and the thread CPU seconds spent in collections so far (per
generation) to the file named by ``THRIFTY_GC_PROBE_OUT``:

    PYTHONPATH=bench/gc_probe THRIFTY_GC_PROBE_OUT=/tmp/gc.txt \\
        .venv/bin/python bench/concurrency.py --concurrency 1000 --upstream-ms 1000 \\
        --seconds 10 --pin --mode stream --arrivals spread

The share over a run is the growth of the collections' total over the growth of the
process CPU between two lines.  (For code older than the current tree, put its ``src``
after this directory: ``PYTHONPATH=bench/gc_probe:/tmp/before/src``.)
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

_OUT = os.environ.get("THRIFTY_GC_PROBE_OUT")


def _install(out: str) -> None:
    started: dict[int, float] = {}
    spent = [0.0, 0.0, 0.0]
    runs = [0, 0, 0]
    last = [time.monotonic()]

    def probe(phase: str, info: dict[str, Any]) -> None:
        generation = info["generation"]
        if phase == "start":
            started[generation] = time.thread_time()
            return
        spent[generation] += time.thread_time() - started.pop(generation, time.thread_time())
        runs[generation] += 1
        if time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            with open(out, "a") as file:
                file.write(
                    f"{time.strftime('%H:%M:%S')} pid {os.getpid()} cpu_s "
                    f"{time.process_time():.2f} gc_s {sum(spent):.3f} "
                    f"by_generation {[round(s, 3) for s in spent]} collections {runs} "
                    f"frozen {gc.get_freeze_count()}\n"
                )

    gc.callbacks.append(probe)


if _OUT and "serve" in sys.argv[1:]:
    _install(_OUT)
