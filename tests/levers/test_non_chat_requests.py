"""Levers that read chat bodies leave the other API operations (Responses, embeddings,
legacy completions) alone, and the request view reads them without failing."""

from __future__ import annotations

from thrifty.api_requests import api_request
from thrifty.config import RoutingSettings
from thrifty.dialects.view import RequestView
from thrifty.levers.cheaper.routing import StaticRouter, routing_stage
from thrifty.levers.fewer_tokens.output import OutputRule, output_stage
from thrifty.testing import FakeUpstream, request_for

EMBEDDINGS = {"model": "text-embedding-3-small", "input": ["a", "b"]}
RESPONSES = {"model": "gpt-4o", "input": "hello", "max_output_tokens": 4000}
COMPLETIONS = {"model": "gpt-3.5-turbo-instruct", "prompt": "hello", "max_tokens": 4000}


async def test_the_output_cap_leaves_other_apis_alone() -> None:
    upstream = FakeUpstream()
    handler = output_stage({None: OutputRule(max_output_tokens=100)})(upstream)
    for api, body in (("responses", RESPONSES), ("completions", COMPLETIONS)):
        response = await handler(api_request(api, body))
        assert response.steps == []
        assert upstream.requests[-1].body == body  # untouched
    capped = await handler(request_for("gpt-4o", max_tokens=4000))  # chat still capped
    assert [s.lever for s in capped.steps] == ["output"]


async def test_task_routing_leaves_other_apis_alone() -> None:
    upstream = FakeUpstream()
    router = StaticRouter(RoutingSettings(), {"t": "claude-haiku-4-5"})
    handler = routing_stage(router)(upstream)
    for api, body in (("embeddings", EMBEDDINGS), ("responses", RESPONSES)):
        response = await handler(api_request(api, body, task="t"))
        assert response.steps == [] and upstream.requests[-1].model == body["model"]
    routed = await handler(request_for("gpt-4o", task="t"))
    assert upstream.requests[-1].model == "claude-haiku-4-5" and routed.steps


def test_the_view_reads_other_apis_without_failing() -> None:
    for api, body in (
        ("embeddings", EMBEDDINGS),
        ("responses", RESPONSES),
        ("completions", COMPLETIONS),
    ):
        view = RequestView.of(api_request(api, body))
        assert view.messages == () and view.system is None and view.tools == ()
        assert len(view.cache_key()) == 64


def test_the_cache_key_names_the_api() -> None:
    # The same fields sent to two operations are two different calls.
    responses = api_request("responses", {"model": "m", "input": "same"})
    embeddings = api_request("embeddings", {"model": "m", "input": "same"})
    assert RequestView.of(responses).cache_key() != RequestView.of(embeddings).cache_key()
    again = api_request("embeddings", {"input": "same", "model": "m", "stream": False})
    assert RequestView.of(again).cache_key() == RequestView.of(embeddings).cache_key()
    other = api_request("embeddings", {"model": "m", "input": "other"})
    assert RequestView.of(other).cache_key() != RequestView.of(embeddings).cache_key()
    # A chat request's key is unchanged by the new field (no "api" in its canonical form).
    assert "api" not in RequestView.of(request_for("gpt-4o")).canonical()
