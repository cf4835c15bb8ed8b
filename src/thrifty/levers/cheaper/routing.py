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
from typing import TYPE_CHECKING

from thrifty.config import RoutingSettings, Settings
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step

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


def routing_stage(router: StaticRouter) -> Stage:
    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            target = router.target(request.task)
            if target is None or target == request.model:
                return await inner(request)
            asked = request.model
            response = await inner(dataclasses.replace(request, model=target))
            response.steps.append(
                Step(lever="routing", detail=f"task {request.task}: {asked} -> {target}")
            )
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
    return routing_stage(router)
