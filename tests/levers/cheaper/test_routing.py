"""Static routing: task -> model (through aliases); unmapped tasks keep the asked model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from thrifty.config import RoutingSettings, Settings
from thrifty.levers.cheaper.routing import StaticRouter, alias_stage, routing_stage
from thrifty.pipeline import compose
from thrifty.types import ChatRequest, ChatResponse


def request(model: str, task: str | None) -> ChatRequest:
    return ChatRequest(
        dialect="openai", body={"model": model}, model=model, requested_model=model, task=task
    )


ROUTING = RoutingSettings(
    tasks={"summarize": "cheap", "impact": "claude-sonnet-4-6"},
    aliases={"cheap": "gpt-4o-mini", "strong": "gpt-4o"},
)


def test_router_resolves_tasks_through_aliases() -> None:
    router = StaticRouter(ROUTING)
    assert router.target("summarize") == "gpt-4o-mini"
    assert router.target("impact") == "claude-sonnet-4-6"
    assert router.target("unknown") is None
    assert router.target(None) is None
    assert router.resolve_alias("strong") == "gpt-4o"
    assert router.resolve_alias("gpt-4o") == "gpt-4o"


async def test_stage_rewrites_the_model_and_records_a_step() -> None:
    seen: list[ChatRequest] = []

    async def upstream(req: ChatRequest) -> ChatResponse:
        seen.append(req)
        return ChatResponse(dialect="openai", model=req.model, provider="p")

    router = StaticRouter(ROUTING)
    handler = compose([alias_stage(router), routing_stage(router)], upstream)
    routed = await handler(request("gpt-4o", "summarize"))
    assert (seen[0].model, seen[0].requested_model) == ("gpt-4o-mini", "gpt-4o")
    assert [(s.lever, s.saved_usd) for s in routed.steps] == [("routing", None)]
    assert "gpt-4o -> gpt-4o-mini" in routed.steps[0].detail

    kept = await handler(request("gpt-4o", "translate"))
    assert seen[1].model == "gpt-4o" and kept.steps == []

    alias = await handler(request("strong", None))
    # The alias is resolved before the ledger sees the request: the ledger books the real
    # model as requested and keeps the alias in its own field.
    assert (seen[2].model, seen[2].requested_model) == ("gpt-4o", "gpt-4o")
    assert seen[2].requested_alias == "strong"
    assert alias.steps == []  # naming a model by alias is not a saving

    same = await handler(request("gpt-4o-mini", "summarize"))
    assert same.steps == []  # already on the target: nothing to credit


def test_tasks_table_routes_like_the_short_form() -> None:
    settings = Settings(
        routing=RoutingSettings(aliases={"cheap": "gpt-4o-mini"}),
        tasks={"summarize": {"model": "cheap"}},
    )
    router = StaticRouter.from_settings(settings)
    assert router.target("summarize") == "gpt-4o-mini"


async def test_a_rule_the_target_cannot_serve_is_skipped_by_default() -> None:
    """An OpenAI request with n=2 routed to a Claude model: the translation cannot carry
    it, so by default the rule is skipped and the request keeps its model."""
    from thrifty.testing import FakeUpstream, request_for

    router = StaticRouter(RoutingSettings(tasks={"t": "claude-haiku-4-5"}))

    def dialect_of(model: str) -> Literal["openai", "anthropic"]:
        return "anthropic" if model.startswith("claude") else "openai"

    upstream = FakeUpstream()
    handler = routing_stage(router, dialect_of)(upstream)
    kept = await handler(request_for("gpt-4o", task="t", n=2))
    assert upstream.requests[-1].model == "gpt-4o" and kept.steps == []
    assert kept.headers["routing"] == "skipped (request not translatable)"
    routed = await handler(request_for("gpt-4o", task="t"))
    assert upstream.requests[-1].model == "claude-haiku-4-5"
    assert [s.lever for s in routed.steps] == ["routing"]

    strict = routing_stage(router, dialect_of, skip_unsupported=False)(upstream)
    await strict(request_for("gpt-4o", task="t", n=2))  # the provider's translation 400s
    assert upstream.requests[-1].model == "claude-haiku-4-5"


async def test_responses_and_completions_requests_follow_rules_their_api_can_serve() -> None:
    """A Responses (or legacy completions) request is routed to an OpenAI-compatible model,
    and keeps its model, saying why, when the rule points at a Claude model; embeddings
    requests never follow task rules."""
    import dataclasses

    from thrifty.testing import FakeUpstream, request_for

    router = StaticRouter(
        RoutingSettings(tasks={"cheap": "gpt-4o-mini", "claude": "claude-haiku-4-5"})
    )

    def dialect_of(model: str) -> Literal["openai", "anthropic"]:
        return "anthropic" if model.startswith("claude") else "openai"

    upstream = FakeUpstream()
    handler = routing_stage(router, dialect_of)(upstream)
    for api in ("responses", "completions"):
        routed = await handler(dataclasses.replace(request_for("gpt-4o", task="cheap"), api=api))
        assert upstream.requests[-1].model == "gpt-4o-mini"
        assert [s.lever for s in routed.steps] == ["routing"]
        kept = await handler(dataclasses.replace(request_for("gpt-4o", task="claude"), api=api))
        assert upstream.requests[-1].model == "gpt-4o" and kept.steps == []
        assert kept.headers["routing"] == (
            f"skipped (the {api} API is served by OpenAI-compatible providers only)"
        )
    embedding = dataclasses.replace(
        request_for("text-embedding-3-small", task="cheap"), api="embeddings"
    )
    await handler(embedding)
    assert upstream.requests[-1].model == "text-embedding-3-small"


async def test_a_route_to_a_model_no_provider_serves_is_a_start_up_error(
    tmp_path: Path,
) -> None:
    from thrifty.errors import ConfigError
    from thrifty.runtime import Thrifty

    settings = Settings(
        ledger={"path": str(tmp_path / "l.db")},
        simulate=True,
        tasks={"summarize": {"model": "gtp-4o-mini"}},  # a typo
    )
    with pytest.raises(ConfigError, match="task 'summarize' points to model 'gtp-4o-mini'"):
        async with Thrifty(settings, environ={}):
            pass
