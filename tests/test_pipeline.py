"""The pipeline: one ordered tuple of lever builders, composed in one place."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from thrifty.config import Settings
from thrifty.dispatch import build_registry
from thrifty.ledger import LedgerStore
from thrifty.pipeline import Parts, build_pipeline, compose, pipeline_order
from thrifty.pricing import PriceBook
from thrifty.providers import HttpPool
from thrifty.types import ChatRequest, ChatResponse, Handler


def test_the_pipeline_order_is_pinned() -> None:
    """Changing the order changes what every lever sees and how savings split: on purpose
    only, with this test and docs/architecture.md updated together."""
    assert pipeline_order() == (
        "thrifty.levers.cheaper.routing.build_aliases",
        "thrifty.ledger.stage.build",
        "thrifty.levers.fewer_tokens.output.build",
        "thrifty.levers.cheaper.routing.build",
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
    """With every lever off, only the ledger wraps the provider registry."""
    settings = Settings()
    pool = HttpPool()
    ledger = LedgerStore(tmp_path / "l.db")
    await ledger.open()
    try:
        async with AsyncExitStack() as resources:
            registry = build_registry(settings, pool, {}, simulator_url="http://127.0.0.1:9")
            parts = Parts(settings, PriceBook(), ledger, registry, resources)
            handler = await build_pipeline(parts)
            assert handler.__qualname__ == "ledger_stage.<locals>.wrap.<locals>.handle"
            inner = handler.__closure__  # the ledger's inner handler is the registry itself
            assert inner is not None
            assert any(cell.cell_contents is registry for cell in inner)
    finally:
        await ledger.close()
        await pool.aclose()
