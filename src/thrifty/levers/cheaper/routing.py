"""Static routing: a task name picks the model.

``[tasks.TASK] model`` (or the short form ``[routing.tasks]``) maps a task (named by the
app with the ``X-Thrifty-Task`` header or ``metadata.thrifty_task``) to a model or alias;
``[routing.aliases]`` maps names to real models.  A request whose task is not mapped keeps
the model it asked for.  The Accountant books the saving once usage is final: the answer's
usage on the requested model minus the same usage on the model that served it.

Aliases are resolved by their own stage, outside the ledger, so that the ledger books the
real model as ``requested_model`` and keeps the alias in ``requested_alias``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from thrifty.config import RoutingSettings, Settings
from thrifty.dialects import anthropic_to_openai_request, openai_to_anthropic_request
from thrifty.errors import BadRequest
from thrifty.types import ChatRequest, ChatResponse, Dialect, Handler, Stage, Step

log = logging.getLogger("thrifty.routing")

if TYPE_CHECKING:
    from thrifty.pipeline import Parts


class StaticRouter:
    def __init__(self, routing: RoutingSettings, routes: dict[str, str] | None = None) -> None:
        self._aliases = dict(routing.aliases)
        routes = dict(routing.tasks) if routes is None else routes
        self._tasks = {task: self.resolve_alias(model) for task, model in routes.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> StaticRouter:
        return cls(settings.routing, settings.task_routes())

    def resolve_alias(self, model: str) -> str:
        return self._aliases.get(model, model)

    def target(self, task: str | None) -> str | None:
        return None if task is None else self._tasks.get(task)


def alias_stage(router: StaticRouter) -> Stage:
    """Resolve an alias the app asked for (``model="cheap"``) into the real model."""

    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            asked = router.resolve_alias(request.requested_model)
            if asked != request.requested_model:
                request = dataclasses.replace(
                    request,
                    model=asked if request.model == request.requested_model else request.model,
                    requested_model=asked,
                    requested_alias=request.requested_model,
                )
            return await inner(request)

        return handle

    return wrap


DialectOf = Callable[[str], Dialect | None]


def translatable(request: ChatRequest, to: Dialect) -> bool:
    """Whether ``request`` can be sent to a model of dialect ``to``."""
    if to == request.dialect:
        return True
    try:
        if to == "anthropic":
            openai_to_anthropic_request(request.body)
        else:
            anthropic_to_openai_request(request.body)
    except BadRequest:
        return False
    return True


def routing_stage(
    router: StaticRouter, dialect_of: DialectOf | None = None, *, skip_unsupported: bool = True
) -> Stage:
    """Route by task.  With ``dialect_of`` (model -> its provider's dialect) and
    ``skip_unsupported``, a rule whose target cannot serve the request (a feature the
    translation to the other dialect cannot carry) is skipped: the request keeps its model."""

    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            target = router.target(request.task)
            if target is None or target == request.model or request.api == "embeddings":
                # Task rules pick generation models: an embeddings request keeps its own.
                return await inner(request)
            to = dialect_of(target) if dialect_of is not None else None
            if request.api != "chat" and to != "openai":
                # The Responses and legacy completions APIs are OpenAI's alone.
                why = f"the {request.api} API is served by OpenAI-compatible providers only"
                return await skipped(request, target, why)
            if skip_unsupported and to is not None and not translatable(request, to):
                return await skipped(request, target, "request not translatable")
            asked = request.model
            response = await inner(dataclasses.replace(request, model=target))
            response.steps.append(
                Step(lever="routing", detail=f"task {request.task}: {asked} -> {target}")
            )
            return response

        async def skipped(request: ChatRequest, target: str, why: str) -> ChatResponse:
            """The rule's target cannot serve this request: it keeps its model, and the
            app (``x-thrifty-routing``) and the log say so."""
            log.info("task %s: rule -> %s skipped (%s)", request.task, target, why)
            response = await inner(request)
            response.headers["routing"] = f"skipped ({why})"[:200]
            return response

        return handle

    return wrap


async def build_aliases(parts: Parts) -> Stage | None:
    if not parts.settings.routing.aliases:
        return None
    return alias_stage(StaticRouter.from_settings(parts.settings))


async def build(parts: Parts) -> Stage | None:
    router = StaticRouter.from_settings(parts.settings)
    if not parts.settings.task_routes():
        return None

    def dialect_of(model: str) -> Dialect | None:
        upstream = parts.providers.find(model)
        return None if upstream is None else upstream.settings.dialect

    skip = parts.settings.routing.on_unsupported == "skip"
    return routing_stage(router, dialect_of, skip_unsupported=skip)
