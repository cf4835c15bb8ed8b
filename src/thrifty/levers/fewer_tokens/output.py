"""Output control: cap the answer's length per task.

``[levers.output] enabled = true, max_output_tokens = N`` (or per task under
``[tasks.TASK.output]``) lowers the request's output limit to ``N`` when the app asked for
more or for no limit.  What the cap saves cannot be known (nobody saw the longer answer),
so the step states no token change and claims no saving: the ledger shows the lever acted
and books no figure for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thrifty.dialects.view import RequestView
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step

if TYPE_CHECKING:
    from thrifty.pipeline import Parts


def output_stage(caps: dict[str | None, int | None]) -> Stage:
    """``caps`` maps a task (``None``: any other task) to its output-token cap (``None``:
    no cap)."""
    default = caps.get(None)

    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            cap = caps.get(request.task, default)
            if cap is None or request.api != "chat":  # it reads and writes chat bodies only
                return await inner(request)
            view = RequestView.of(request)
            asked = view.max_output_tokens
            if asked is not None and asked <= cap:
                return await inner(request)
            response = await inner(view.with_max_output_tokens(cap))
            response.steps.append(
                Step(lever="output", detail=f"max output tokens {asked or 'unset'} -> {cap}")
            )
            return response

        return handle

    return wrap


async def build(parts: Parts) -> Stage | None:
    settings = parts.settings
    tasks: list[str | None] = [None, *settings.tasks]
    caps: dict[str | None, int | None] = {}
    for task in tasks:
        lever = settings.levers_for(task).output
        caps[task] = lever.max_output_tokens if lever.enabled else None
    if all(cap is None for cap in caps.values()):
        return None
    return output_stage(caps)
