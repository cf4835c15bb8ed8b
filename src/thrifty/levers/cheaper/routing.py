"""Static routing: a task name picks the model.

``[routing.tasks]`` maps a task (named by the app with the ``X-Thrifty-Task`` header or
``metadata.thrifty_task``) to a model or alias; ``[routing.aliases]`` maps names to real
models.  A request whose task is not mapped keeps the model it asked for.  The saving is
booked by the ledger once usage is final (baseline on the requested model minus actual).
"""

from __future__ import annotations

import dataclasses

from thrifty.config import RoutingSettings
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step


class StaticRouter:
    def __init__(self, routing: RoutingSettings) -> None:
        self._aliases = dict(routing.aliases)
        self._tasks = {task: self.resolve_alias(model) for task, model in routing.tasks.items()}

    def resolve_alias(self, model: str) -> str:
        return self._aliases.get(model, model)

    def target(self, task: str | None) -> str | None:
        return None if task is None else self._tasks.get(task)


def routing_stage(routing: RoutingSettings) -> Stage:
    router = StaticRouter(routing)

    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            asked = router.resolve_alias(request.requested_model)
            target = router.target(request.task) or asked
            if target != request.model or asked != request.requested_model:
                request = dataclasses.replace(request, model=target, requested_model=asked)
            response = await inner(request)
            if target != asked:
                response.steps.append(
                    Step(lever="routing", detail=f"task {request.task}: {asked} -> {target}")
                )
            return response

        return handle

    return wrap
