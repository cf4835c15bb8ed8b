"""The pipeline: one ordered tuple of lever builders, composed in one place."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from thrifty.config import LeversSettings, Settings
from thrifty.dispatch import build_registry
from thrifty.ledger import LedgerStore
from thrifty.pipeline import Parts, build_pipeline, compose, pipeline_order
from thrifty.pricing import PriceBook
from thrifty.providers import HttpPool
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage


def test_the_pipeline_order_is_pinned() -> None:
    """Changing the order changes what every lever sees and how savings split: on purpose
    only, with this test and docs/architecture.md updated together."""
    assert pipeline_order() == (
        "thrifty.levers.cheaper.routing.build_aliases",
        "thrifty.ledger.stage.build",
        "thrifty.levers.fewer_calls.idempotency.build",
        "thrifty.levers.fewer_calls.debounce.build",
        "thrifty.levers.fewer_tokens.history.conversation.build",
        "thrifty.levers.fewer_calls.cache.build",
        "thrifty.levers.fewer_calls.coalesce.build",
        "thrifty.levers.fewer_calls.semantic.stage.build",
        "thrifty.levers.fewer_tokens.output.build",
        "thrifty.context.stage.build",
        "thrifty.levers.fewer_tokens.history.stage.build",
        "thrifty.levers.fewer_tokens.compress.stage.build",
        "thrifty.levers.cheaper.shadow.stage.build",
        "thrifty.levers.cheaper.routing.build",
        "thrifty.levers.cheaper.learned.stage.build",
        "thrifty.levers.cheaper.local.stage.build",
        "thrifty.levers.cheaper.cascade.stage.build",
        "thrifty.levers.fewer_tokens.prompt_cache.stage.build",
    )


async def test_compose_puts_the_first_stage_outermost() -> None:
    seen: list[str] = []

    def stage(name: str):  # type: ignore[no-untyped-def]
        def wrap(inner: Handler) -> Handler:
            async def handle(request: ChatRequest) -> ChatResponse:
                seen.append(name)
                return await inner(request)

            return handle

        return wrap

    async def innermost(request: ChatRequest) -> ChatResponse:
        seen.append("provider")
        return ChatResponse(dialect="openai", model="m", provider="p")

    handler = compose([stage("a"), stage("b")], innermost)
    await handler(ChatRequest(dialect="openai", body={}, model="m", requested_model="m"))
    assert seen == ["a", "b", "provider"]


async def test_disabled_levers_add_no_stage(tmp_path: Path) -> None:
    """With every lever off, only the ledger and the kept-conversation check (an
    ``x-thrifty-conversation`` id is never dropped silently) wrap the provider registry."""
    settings = Settings(
        levers={name: {"enabled": False} for name in LeversSettings.model_fields},
        ledger={"path": tmp_path / "l.db"},
    )
    pool = HttpPool()
    ledger = LedgerStore(tmp_path / "l.db")
    await ledger.open()
    try:
        async with AsyncExitStack() as resources:
            registry = build_registry(settings, pool, {}, simulator_url="http://127.0.0.1:9")
            parts = Parts(settings, PriceBook(), ledger, registry, resources)
            handler = await build_pipeline(parts)
            assert handler.__qualname__ == "ledger_stage.<locals>.wrap.<locals>.handle"
            assert handler.__closure__ is not None
            (kept,) = [
                cell.cell_contents
                for cell in handler.__closure__
                if getattr(cell.cell_contents, "__qualname__", "").startswith("Conversation")
            ]
            inner = kept.__closure__  # the conversation check's inner is the registry itself
            assert inner is not None
            assert any(cell.cell_contents is registry for cell in inner)
    finally:
        await ledger.close()
        await pool.aclose()


async def test_what_a_lever_opens_is_closed_by_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lever enters its store in ``parts.resources``; the runtime closes it, newest
    first, when it shuts down (and the lever's stage is in the pipeline meanwhile)."""
    import thrifty.pipeline as pipeline
    from thrifty.runtime import Thrifty

    events: list[str] = []

    class Store:
        def __init__(self, name: str) -> None:
            self.name = name

        async def __aenter__(self) -> Store:
            events.append(f"open {self.name}")
            return self

        async def __aexit__(self, *exc: object) -> None:
            events.append(f"close {self.name}")

    def lever(name: str):  # type: ignore[no-untyped-def]
        async def build(parts: Parts) -> Stage:
            await parts.resources.enter_async_context(Store(name))

            def wrap(inner: Handler) -> Handler:
                async def handle(request: ChatRequest) -> ChatResponse:
                    events.append(f"through {name}")
                    return await inner(request)

                return handle

            return wrap

        return build

    real = pipeline._pipeline
    monkeypatch.setattr(pipeline, "_pipeline", lambda: (*real(), lever("a"), lever("b")))
    settings = Settings(ledger={"path": str(tmp_path / "l.db")}, simulate=True)
    async with Thrifty(settings, environ={}) as thrifty:
        await thrifty.chat({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
        assert events == ["open a", "open b", "through a", "through b"]
    assert events[-2:] == ["close b", "close a"]
