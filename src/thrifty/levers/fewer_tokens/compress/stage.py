"""The compression stage: ``[levers.compress]`` (and ``[tasks.TASK.compress]``), off by
default.

A compressed request is sent instead of the app's; the step books the estimated tokens
removed (``TokenChange(input_tokens=-n)``: the Accountant prices them on the requested
model) and the ``x-thrifty-compress`` header summarises what was done.  A malformed
conversation is sent unchanged with an ``x-thrifty-compress-warning`` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from thrifty.config import CompressSettings
from thrifty.lever_warnings import call_warned
from thrifty.levers.fewer_tokens.compress.engine import compress
from thrifty.levers.fewer_tokens.compress.memo import CompressionMemo
from thrifty.types import (
    ChatRequest,
    ChatResponse,
    Handler,
    Stage,
    Step,
    TokenChange,
)

if TYPE_CHECKING:
    from thrifty.pipeline import Parts

HEADER = "compress"
WARNING_HEADER = "compress-warning"


def compress_stage(
    settings: Mapping[str | None, CompressSettings | None], memo: CompressionMemo | None = None
) -> Stage:
    """``settings`` maps a task (``None``: any other task) to its compression settings
    (``None``: off for that task).  ``memo`` (default: a new one) remembers compressed
    prompt prefixes, since system prompts repeat."""
    default = settings.get(None)
    memo = memo if memo is not None else CompressionMemo()

    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            chosen = settings.get(request.task, default)
            if chosen is None:
                return await inner(request)
            sent, explanation = compress(request, chosen, memo)
            if explanation.warning is not None:
                response = await call_warned(inner, sent, WARNING_HEADER, explanation.warning)
            else:
                response = await inner(sent)
            summary = explanation.summary()
            response.headers[HEADER] = summary
            if sent is not request and response.served is not None:
                change = TokenChange(input_tokens=-explanation.tokens_saved)
                response.steps.append(Step("compress", summary, tokens=change))
            return response

        return handle

    return wrap


async def build(parts: Parts) -> Stage | None:
    settings = parts.settings
    chosen: dict[str | None, CompressSettings | None] = {}
    for task in [None, *settings.tasks]:
        lever = settings.levers_for(task).compress
        chosen[task] = lever if lever.enabled else None
    if all(value is None for value in chosen.values()):
        return None
    return compress_stage(chosen)
