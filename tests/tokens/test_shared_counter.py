"""The stages that count tokens share the runtime's counter: a paragraph one stage counted
is not encoded again by the next."""

from __future__ import annotations

from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path

from tests.tokens.spy import Spy
from thrifty.config import Settings
from thrifty.pipeline import Parts, _pipeline, compose
from thrifty.pricing import PriceBook
from thrifty.testing import FakeUpstream, reply, request_for
from thrifty.tokens import TokenCounter
from thrifty.types import Stage, Usage

PARAGRAPH = "Answer questions about the product catalogue, citing the item each time. "
HISTORY = "thrifty.levers.fewer_tokens.history.stage"
PLANNER = "thrifty.levers.fewer_tokens.prompt_cache.stage"
CONTEXT = "thrifty.context.stage"


async def _long_pieces_encoded(folder: Path, stage_modules: tuple[str, ...]) -> Counter[str]:
    spy = Spy()
    counter = TokenCounter(loader=lambda name: spy)  # type: ignore[arg-type,return-value]
    settings = Settings(
        levers={
            "history": {"enabled": True, "budget_tokens": 100_000},
            "prompt_cache": {"enabled": True},
        },
        ledger={"path": folder / "ledger.db"},
    )
    documents = [f"Document {i}: {PARAGRAPH * 4}" for i in range(3)]
    upstream = FakeUpstream(lambda req: reply(req, "ok", Usage(input_tokens=9, output_tokens=1)))
    async with AsyncExitStack() as resources:
        parts = Parts(settings, PriceBook(), None, upstream, resources, counter)  # type: ignore[arg-type]
        stages: list[Stage] = []
        for builder in _pipeline():
            if builder.__module__ in stage_modules:
                stage = await builder(parts)
                assert stage is not None
                stages.append(stage)
        long_text = "\n\n".join(f"{i}. {PARAGRAPH * 3}" for i in range(4))
        request = request_for("claude-sonnet-4-6", dialect="anthropic", system=long_text)
        request.body["messages"] = [
            {"role": "user", "content": long_text + "\n\nWhich items are in stock?"},
            {"role": "assistant", "content": "Items 1 and 2."},
            {"role": "user", "content": "And item 3?"},
        ]
        if "thrifty.context.stage" in stage_modules:
            request.body["thrifty_context"] = {"documents": documents, "budget_tokens": 60}
        await compose(stages, upstream)(request)
    return Counter({text: n for text, n in spy.encoded.items() if len(text) >= 64})


async def test_a_paragraph_is_encoded_once_across_the_stages(tmp_path: Path) -> None:
    history = await _long_pieces_encoded(tmp_path / "h", (HISTORY,))
    planner = await _long_pieces_encoded(tmp_path / "p", (PLANNER,))
    assert set(history) & set(planner)  # both count the same paragraphs, with parts.counter
    both = await _long_pieces_encoded(tmp_path / "b", (HISTORY, PLANNER))
    assert set(both) == set(history) | set(planner)
    assert all(n == 1 for n in both.values()), both


async def test_the_context_stage_counts_with_the_shared_counter(tmp_path: Path) -> None:
    context = await _long_pieces_encoded(tmp_path / "c", (CONTEXT,))
    assert any(text.startswith("Document") for text in context)  # its documents, counted
    assert all(n == 1 for n in context.values()), context
