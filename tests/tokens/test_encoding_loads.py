"""Which encodings a gateway loads, and where: o200k_base at start, off the event loop, for
the stages a config turns on (history, the prompt-cache planner); context selection, on by
default and acting only on requests that carry ``thrifty_context``, loads nothing at start
and o200k_base on the first such request; cl100k_base only when a request for a gpt-4 or
gpt-3.5 model comes; every load on a worker thread."""

from __future__ import annotations

import asyncio
import threading
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.tokens.spy import REAL
from thrifty.config import Settings
from thrifty.pipeline import Parts, _pipeline, compose
from thrifty.pricing import PriceBook
from thrifty.testing import FakeUpstream, reply, request_for
from thrifty.tokens import TokenCounter
from thrifty.tokens.encodings import CountTokens, EncodingName
from thrifty.types import Stage, Usage

STAGES = {
    "thrifty.context.stage": {"context": {"enabled": True}},
    "thrifty.levers.fewer_tokens.history.stage": {"history": {"enabled": True}},
    "thrifty.levers.fewer_tokens.prompt_cache.stage": {"prompt_cache": {"enabled": True}},
}


class Loads:
    """A count loader that notes each encoding it loads and the thread it ran on."""

    def __init__(self) -> None:
        self.loaded: list[tuple[EncodingName, int]] = []

    def __call__(self, name: EncodingName) -> CountTokens:
        self.loaded.append((name, threading.get_ident()))
        return REAL.counting(name)


async def _built(folder: Path, module: str, loads: Loads) -> Stage:
    counter = TokenCounter(count_loader=loads)
    settings = Settings(levers=STAGES[module], ledger={"path": folder / "ledger.db"})
    upstream = FakeUpstream(lambda req: reply(req, "ok", Usage(input_tokens=9, output_tokens=1)))
    async with AsyncExitStack() as resources:
        parts = Parts(settings, PriceBook(), None, upstream, resources, counter)  # type: ignore[arg-type]
        for builder in _pipeline():
            if builder.__module__ == module:
                stage = await builder(parts)
                assert stage is not None
                return compose([stage], upstream)  # type: ignore[return-value]
    raise AssertionError(module)


@pytest.mark.parametrize("module", sorted(STAGES))
async def test_start_loads_o200k_at_most_and_off_the_loop(tmp_path: Path, module: str) -> None:
    loads = Loads()
    loop_thread = threading.get_ident()
    handler = await _built(tmp_path, module, loads)
    at_start = [] if module == "thrifty.context.stage" else ["o200k_base"]
    assert [name for name, _ in loads.loaded] == at_start
    assert all(thread != loop_thread for _, thread in loads.loaded)
    request = request_for("gpt-4o", "hello")
    if module == "thrifty.context.stage":
        request.body["thrifty_context"] = {"documents": ["a document"]}
    await handler(request)  # type: ignore[operator]
    assert [name for name, _ in loads.loaded] == ["o200k_base"]  # nothing more for gpt-4o

    cl100k = request_for("gpt-4-turbo", "hello")
    if module == "thrifty.context.stage":
        cl100k.body["thrifty_context"] = {"documents": ["a document"]}
    await handler(cl100k)  # type: ignore[operator]
    assert [name for name, _ in loads.loaded] == ["o200k_base", "cl100k_base"]
    assert all(thread != loop_thread for _, thread in loads.loaded)


async def test_requests_at_once_load_an_encoding_once() -> None:
    loads = Loads()
    counter = TokenCounter(count_loader=loads)
    await asyncio.gather(*(counter.load_for("gpt-3.5-turbo") for _ in range(8)))
    assert [name for name, _ in loads.loaded] == ["cl100k_base"]
    assert counter.loaded("cl100k_base") and not counter.loaded("o200k_base")
    assert counter.count_text("gpt-3.5-turbo", "hello world").tokens == 2
