"""Static routing: task -> model (through aliases); unmapped tasks keep the asked model."""

from __future__ import annotations

from thrifty.config import RoutingSettings
from thrifty.levers.cheaper.routing import StaticRouter, routing_stage
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

    handler = routing_stage(ROUTING)(upstream)
    routed = await handler(request("gpt-4o", "summarize"))
    assert (seen[0].model, seen[0].requested_model) == ("gpt-4o-mini", "gpt-4o")
    assert [(s.lever, s.saved_usd) for s in routed.steps] == [("routing", None)]
    assert "gpt-4o -> gpt-4o-mini" in routed.steps[0].detail

    kept = await handler(request("gpt-4o", "translate"))
    assert seen[1].model == "gpt-4o" and kept.steps == []

    alias = await handler(request("strong", None))
    assert (seen[2].model, seen[2].requested_model) == ("gpt-4o", "gpt-4o")
    assert alias.steps == []  # naming a model by alias is not a saving

    same = await handler(request("gpt-4o-mini", "summarize"))
    assert same.steps == []  # already on the target: nothing to credit
