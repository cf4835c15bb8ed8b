"""What the learned routing stage adds per request, against a pass-through in the same run.

    .venv/bin/python bench/learned_router.py [--data ../shared/data] [--requests 2000]

Fits a TF-IDF router on RouterBench ARC-Challenge's train split (1,019 queries, 11 models)
and a MiniLM router on its first 60 train queries (the decision's cost does not depend on
how many rows it was fitted on: it is one 384 x candidates product), then sends the test
prompts one at a time through:

* the pass-through (baseline): a handler chain whose innermost handler answers at once;
* the learned routing stage with the TF-IDF router (read the prompt, decide, route);
* the MiniLM router's decision from a given embedding (what the stage would pay if the
  semantic cache shared its embedding of the same message), and with the embedding computed
  (what it pays today, in a worker thread).

Prints p50 / p99 in milliseconds, and the stage's p50 as added time over the pass-through.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from route_decision import quantile_ms, timed  # bench/: the same timing helpers

from thrifty.eval.route.datasets import load_routerbench
from thrifty.eval.route.routers import PromptRouter
from thrifty.eval.route.table import OutcomeTable
from thrifty.levers.cheaper.learned.command import fit_router, target_names
from thrifty.levers.cheaper.learned.predictors import (
    EmbeddingRouter,
    file_from_router,
    live_router,
)
from thrifty.levers.cheaper.learned.stage import LearnedRouting, TaskRouter
from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder
from thrifty.testing import FakeUpstream, reply, request_for
from thrifty.types import ChatRequest

STRONG = "gpt-4-1106-preview"


async def timed_async(
    handle: Callable[[ChatRequest], Awaitable[object]], requests: list[ChatRequest], count: int
) -> list[float]:
    for request in requests[:50]:  # warm-up
        await handle(request)
    seconds = []
    for k in range(count):
        request = requests[k % len(requests)]
        started = time.perf_counter()
        await handle(request)
        seconds.append(time.perf_counter() - started)
    return seconds


async def run(args: argparse.Namespace) -> None:
    loaded = load_routerbench(args.data / "routerbench_subset", "arc_challenge")
    train_records = [r for r in loaded.records if r.split == "train"]
    test_prompts = [r.prompt for r in loaded.records if r.split == "test"]
    train = OutcomeTable.from_records(train_records)
    tfidf = file_from_router(_fitted(train, None), target_names(), {})
    embedder = MiniLMEmbedder()
    small = OutcomeTable.from_records(train_records[:60])
    minilm = file_from_router(_fitted(small, embedder), target_names(), {})

    served = {name: name for name in tfidf.models}
    stage = LearnedRouting(
        {"arc": TaskRouter(live_router(tfidf), tfidf.threshold_for(0.98), served)}
    )
    upstream = FakeUpstream(lambda request: reply(request, "A"))
    requests = [request_for(STRONG, prompt, task="arc") for prompt in test_prompts]
    rows: dict[str, list[float]] = {}
    rows["pass-through (baseline)"] = await timed_async(upstream, requests, args.requests)
    rows["learned routing stage, TF-IDF"] = await timed_async(
        stage(upstream), requests, args.requests
    )
    live = live_router(minilm, embedder)
    threshold = minilm.threshold_for(0.98)
    vectors = embedder.embed(test_prompts[: args.embeddings])
    rows["MiniLM decision, embedding given"] = timed(
        lambda i: live.decide_vector(vectors[i], threshold), args.requests, len(vectors)
    )
    rows["MiniLM decision, embedding computed"] = timed(
        lambda i: live.decide(test_prompts[i], threshold), args.embeddings, len(test_prompts)
    )
    baseline = statistics.median(rows["pass-through (baseline)"])
    print(
        f"ARC-Challenge test prompts ({len(test_prompts)}, median "
        f"{statistics.median(len(p) for p in test_prompts):.0f} characters); TF-IDF router "
        f"over {len(tfidf.weights):,} features and {len(tfidf.candidates)} candidates"
    )
    print(f"{'path':40s} {'n':>6s} {'p50 ms':>8s} {'p99 ms':>8s} {'p50 - baseline':>15s}")
    for name, seconds in rows.items():
        added = 1000 * (statistics.median(seconds) - baseline)
        print(
            f"{name:40s} {len(seconds):6d} {quantile_ms(seconds, 0.5):8.3f} "
            f"{quantile_ms(seconds, 0.99):8.3f} {added:+14.3f}"
        )


def _fitted(train: OutcomeTable, embedder: MiniLMEmbedder | None) -> PromptRouter:
    router = EmbeddingRouter(embedder) if embedder is not None else PromptRouter("logreg")
    fit_router(train, router)
    return router


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--embeddings", type=int, default=200, help="prompts embedded live")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
