"""The learned routing stage: decisions, booking (hand arithmetic), failures, start-up."""

from __future__ import annotations

from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.levers.cheaper.learned_kit import LARGE, SMALL, WordEmbedder, fitted, saved
from thrifty.config import Settings
from thrifty.dispatch import ProviderRegistry, Upstream
from thrifty.errors import ConfigError
from thrifty.levers.cheaper.learned import stage
from thrifty.levers.cheaper.learned.predictors import live_router, restricted
from thrifty.levers.cheaper.learned.router_file import RouterFileError
from thrifty.levers.cheaper.learned.stage import LearnedRouting, TaskRouter
from thrifty.pipeline import Parts
from thrifty.pricing import PriceBook
from thrifty.testing import FakeUpstream, accountant, reply, request_for
from thrifty.types import ChatRequest, Usage

EASY, HARD = "easy sum of numbers number 7001", "hard proof of theorem number 7002"


def routing(features: str = "tfidf", target: float = 1.0, **rules: Any) -> LearnedRouting:
    router = fitted(features)
    live = live_router(router, WordEmbedder() if features == "minilm" else None)
    served = {SMALL: SMALL, LARGE: LARGE}
    return LearnedRouting({"qa": TaskRouter(live, router.threshold_for(target), served), **rules})


@pytest.mark.parametrize("features", ["tfidf", "minilm"])
async def test_easy_prompts_go_to_the_small_model_and_hard_ones_stay(features: str) -> None:
    upstream = FakeUpstream()
    handler = routing(features)(upstream)
    easy = await handler(request_for(LARGE, EASY, task="qa"))
    hard = await handler(request_for(LARGE, HARD, task="qa"))
    assert [r.model for r in upstream.requests] == [SMALL, LARGE]
    assert easy.headers["learned-route"] == SMALL and hard.headers["learned-route"] == LARGE
    assert easy.steps[0].lever == "learned_routing"
    assert f"{LARGE} -> {SMALL}" in easy.steps[0].detail
    assert f"kept {LARGE}" in hard.steps[0].detail
    assert "decided in" in easy.steps[0].detail


async def test_other_tasks_and_non_chat_requests_are_left_alone() -> None:
    upstream = FakeUpstream()
    handler = routing()(upstream)
    other = await handler(request_for(LARGE, EASY, task="other"))
    untagged = await handler(request_for(LARGE, EASY))
    embeddings = ChatRequest(
        "openai", {"model": LARGE, "input": EASY}, LARGE, LARGE, api="embeddings", task="qa"
    )
    await handler(embeddings)
    assert [r.model for r in upstream.requests] == [LARGE, LARGE, LARGE]
    assert other.steps == [] and untagged.steps == []


async def test_a_tool_result_last_is_not_routed() -> None:
    upstream = FakeUpstream()
    body_messages = [
        {"role": "user", "content": EASY},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]  # fmt: skip
    request = request_for(LARGE, EASY, task="qa")
    request = ChatRequest(
        "openai", {**request.body, "messages": body_messages}, LARGE, LARGE, task="qa"
    )
    await routing()(upstream)(request)
    assert upstream.requests[0].model == LARGE


async def test_the_model_change_is_booked_as_routing_is() -> None:
    """App asks gpt-4o; the router sends the easy prompt to gpt-4o-mini, which answers with
    1,000 in / 200 out.  Baseline: 1,000 x $2.50/M + 200 x $10/M = $0.0045.  Cost: 1,000 x
    $0.15/M + 200 x $0.60/M = $0.00027.  Learned routing saved $0.00423."""
    usage = Usage(input_tokens=1000, output_tokens=200)
    handler = routing()(FakeUpstream(lambda req: reply(req, "4", usage)))
    request = request_for(LARGE, EASY, task="qa")
    response = await handler(request)
    settled = accountant().settle(request, response)
    assert settled.cost.usd == Decimal("0.00027")
    assert settled.baseline.usd == Decimal("0.0045")
    assert settled.savings == {"learned_routing": Decimal("0.00423")}
    assert response.steps[0].saved_usd == Decimal("0.00423")


async def test_a_kept_model_books_no_saving() -> None:
    handler = routing()(FakeUpstream(lambda req: reply(req, "4", Usage(10, 2))))
    request = request_for(LARGE, HARD, task="qa")
    response = await handler(request)
    settled = accountant().settle(request, response)
    assert settled.savings == {} and settled.saved == Decimal(0)
    assert response.steps[0].saved_usd is None


async def test_a_failing_router_leaves_the_request_unchanged() -> None:
    class Broken(WordEmbedder):
        def embed(self, texts: Any) -> Any:
            raise RuntimeError("onnx session died")

    router = fitted("minilm")
    live = live_router(router, Broken())
    upstream = FakeUpstream()
    handler = LearnedRouting({"qa": TaskRouter(live, 0.5, {SMALL: SMALL, LARGE: LARGE})})(upstream)
    response = await handler(request_for(LARGE, EASY, task="qa"))
    assert upstream.requests[0].model == LARGE
    assert response.steps == []


async def test_a_pick_the_request_cannot_be_sent_to_is_skipped() -> None:
    """An OpenAI request with logprobs cannot go to a Claude model: the model is kept."""
    router = fitted()
    live = live_router(router)
    served = {SMALL: "claude-haiku-4-5", LARGE: LARGE}
    handler = LearnedRouting(
        {"qa": TaskRouter(live, router.threshold_for(1.0), served)},
        {"claude-haiku-4-5": "anthropic", LARGE: "openai"},
    )
    upstream = FakeUpstream()
    response = await handler(upstream)(request_for(LARGE, EASY, task="qa", logprobs=True))
    assert upstream.requests[0].model == LARGE
    assert "kept gpt-4o (picked claude-haiku-4-5)" in response.steps[0].detail


def test_restricting_the_candidates() -> None:
    router = fitted()
    only_large = restricted(router, [LARGE], "r.json")
    assert [only_large.models[c] for c in only_large.candidates] == [LARGE]
    assert live_router(only_large).decide(EASY, only_large.threshold_for(1.0)) == LARGE
    with pytest.raises(RouterFileError, match="not among the router's candidates"):
        restricted(router, ["gpt-5"], "r.json")


def test_a_minilm_router_needs_the_embedder_it_was_fitted_with() -> None:
    with pytest.raises(RouterFileError, match="fitted on"):
        live_router(fitted("minilm"), None)


# -- start-up -----------------------------------------------------------------------


OPENAI = {"dialect": "openai", "base_url": "http://127.0.0.1:9/v1", "models": ["gpt-*"]}


def settings(**extra: Any) -> Settings:
    return Settings(providers={"openai": OPENAI}, **extra)


async def build(config: Settings) -> object:
    registry = ProviderRegistry(
        [Upstream(name=n, settings=p, provider=None) for n, p in config.providers.items()]
    )
    async with AsyncExitStack() as resources:
        parts = Parts(config, PriceBook(), None, registry, resources)  # type: ignore[arg-type]
        return await stage.build(parts)


async def test_the_builder_is_off_unless_enabled(tmp_path: Path) -> None:
    assert await build(settings()) is None


async def test_the_builder_routes_a_configured_task(tmp_path: Path) -> None:
    path = saved(tmp_path / "router.json")
    lever = {"enabled": True, "model_file": str(path), "quality_target": 0.95}
    built = await build(settings(tasks={"qa": {"learned_routing": lever}}))
    assert isinstance(built, LearnedRouting)
    upstream = FakeUpstream()
    await built(upstream)(request_for(LARGE, EASY, task="qa"))
    assert upstream.requests[0].model == SMALL


async def test_router_names_are_mapped_through_aliases(tmp_path: Path) -> None:
    path = saved(tmp_path / "router.json")
    lever = {"enabled": True, "model_file": str(path)}
    config = settings(
        routing={"aliases": {SMALL: "gpt-4.1-nano"}}, tasks={"qa": {"learned_routing": lever}}
    )
    built = await build(config)
    assert isinstance(built, LearnedRouting)
    upstream = FakeUpstream()
    await built(upstream)(request_for(LARGE, EASY, task="qa"))
    assert upstream.requests[0].model == "gpt-4.1-nano"


@pytest.mark.parametrize(
    ("lever", "says"),
    [
        ({"enabled": True}, r"\[tasks.qa.learned_routing\]: model_file is required"),
        ({"enabled": True, "model_file": "missing.json"}, r"tasks.qa.*cannot read"),
        ({"enabled": True, "model_file": "router.json", "candidates": ["gpt-5"]}, r"qa.*not among"),
        ({"enabled": True, "model_file": "router.json", "threads": 2}, r"qa.*threads can only"),
    ],
)
async def test_a_misconfigured_router_is_a_start_up_error_naming_the_task(
    tmp_path: Path, lever: dict[str, Any], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    saved(tmp_path / "router.json")
    with pytest.raises(ConfigError, match=says):
        await build(settings(tasks={"qa": {"learned_routing": lever}}))


async def test_a_model_no_provider_serves_is_a_start_up_error(tmp_path: Path) -> None:
    path = saved(tmp_path / "router.json")
    only_claude = {"dialect": "anthropic", "base_url": "http://127.0.0.1:9", "models": ["c*"]}
    config = Settings(
        providers={"anthropic": only_claude},
        levers={"learned_routing": {"enabled": True, "model_file": str(path)}},
    )
    with pytest.raises(ConfigError, match=r"\[levers.learned_routing\]: no provider serves"):
        await build(config)
