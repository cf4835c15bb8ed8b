"""How the CPU time of the request path's text and JSON scans grows with their input: each
scan on an adversarial input (many marks and few of what ends them, long runs, many
messages) at size n and at 4n, CPU time of the thread, the least of ``--repeat`` runs.

The ratio 4n / n is the figure: about 4 for a scan in time linear in its input, about 16
for one in the square of it (each of these inputs was the latter before its fix; the
baseline is the n run of the same scan, measured in the same run).

Run: ``.venv/bin/python bench/request_path_scaling.py [--repeat 3] [--scale 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from typing import Any, cast

from thrifty.context import select_context
from thrifty.gateway.request_body import read_body
from thrifty.levers.fewer_calls.semantic.guards import features
from thrifty.levers.fewer_tokens.compress import dedupe, examples, spans, text
from thrifty.levers.fewer_tokens.history.cuts import budget_cuts
from thrifty.tokens import EAGER_ENCODING, TokenCounter

Make = Callable[[int], Any]


class _Pieces:
    """A request whose body arrives in ``count`` pieces of 8 bytes."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.headers: dict[str, str] = {}  # no Content-Length: the reader counts as it reads

    async def stream(self) -> Any:
        for _ in range(self.count):
            yield b"01234567"


def _side_route_body(count: int) -> bytes:
    return asyncio.run(read_body(cast(Any, _Pieces(count)), 1 << 40))


COUNTER = TokenCounter()


def _documents(count: int) -> list[str]:
    """``count`` documents of 1,000 words, 880 shared by all (none a near-duplicate)."""
    shared = " ".join(f"c{i}" for i in range(880))
    return [f"{shared} " + " ".join(f"u{d}x{w}" for w in range(120)) for d in range(count)]


def _select(documents: list[str]) -> object:
    return select_context("c1", documents, budget_tokens=10**9, min_tokens=0, counter=COUNTER)


def _examples(source: str) -> list[examples.Example]:
    return examples.find_examples([source])


def _code_lines(source: str) -> set[int]:
    return dedupe._code_lines(source, spans.fences(source))


# (what, the scan, the input of size n, n)
CASES: list[tuple[str, Callable[[Any], object], Make, int]] = [
    ("tokens: 'a' * n + '-1' (+ U+200B)", text.normalise, lambda n: "a" * n + "-1\u200b", 20_000),
    ("tokens: '.a' * n (+ U+200B)", text.normalise, lambda n: ".a" * n + "1\u200b", 10_000),
    (
        "odd spaces: n lines of 2, one picked",
        text.normalise,
        lambda n: (
            (
                "Plain words of prose in a line, no odd space in it\n"
                + 'An odd\u00a0space, `code`, "a quote"\n'
            )
            * n
        ),
        10_000,
    ),
    ("fences: 'a```' * n", spans.fences, lambda n: "a```" * n, 25_000),
    ("code lines: '```\\n```\\n' * n", _code_lines, lambda n: "```\n```\n" * n, 10_000),
    ("JSON openers: 'x{' * n", text.minify_json, lambda n: "x{" * n, 50_000),
    ("examples: '<example>' * n", _examples, lambda n: "<example>" * n, 10_000),
    ("examples: '<example ' * n", _examples, lambda n: "<example " * n, 10_000),
    (
        "examples: n fences + n examples",
        _examples,
        lambda n: "```\n```\n" * n + "<example>a</example>" * n,
        5_000,
    ),
    (
        "examples: trim n examples to 1",
        lambda source: examples.trim_examples([source], ["x"], "alpha", 1),
        lambda n: "<example>alpha</example>" * n,
        10_000,
    ),
    (
        "history: budget scan, n turns",
        lambda n: budget_cuts(range(1, n // 2), [10] * n, 5, 0.5),
        lambda n: n,
        20_000,
    ),
    ("semantic guards: 'word ' * n", features.__wrapped__, lambda n: "word " * n, 4_000),
    ("side-route body: n pieces of 8 B", _side_route_body, lambda n: n, 50_000),
    ("context: n documents of 1,000 words", _select, _documents, 250),
]


def cpu(scan: Callable[[Any], object], value: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        scan(value)
        best = min(best, time.thread_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every n")
    args = parser.parse_args()
    asyncio.run(COUNTER.load(EAGER_ENCODING))
    print(f"load average: {os.getloadavg()[0]:.2f}")
    print(f"{'scan':42} {'n':>9} {'CPU at n':>10} {'CPU at 4n':>10} {'4n / n':>7}")
    for what, scan, make, size in CASES:
        n = max(1, int(size * args.scale))
        small, large = make(n), make(4 * n)
        at_n, at_4n = cpu(scan, small, args.repeat), cpu(scan, large, args.repeat)
        ratio = at_4n / at_n if at_n else float("inf")
        print(f"{what:42} {n:>9,} {at_n * 1e3:>8.1f}ms {at_4n * 1e3:>8.1f}ms {ratio:>7.1f}")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
