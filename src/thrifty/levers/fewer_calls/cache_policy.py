"""Which requests the exact cache memoizes, under which key, for how long.

The key is the SHA-256 of the request's canonical form (``RequestView.cache_key()``:
dialect, model, messages, system, tools, response format, every parameter that changes the
answer, forwarded upstream headers) together with what else decides the answer or who may
see it: the API operation, the tenant (tenants never share an entry), the task, the model
the task is routed to and the task's output cap (a routing or cap change is a new key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import orjson

from thrifty.config import CacheSettings, Settings
from thrifty.dialects.view import RequestView
from thrifty.errors import BadRequest, ConfigError
from thrifty.types import ChatRequest

KEY_VERSION = 1
# ``x-thrifty-cache`` (``request.metadata["cache"]``): skip the cache, call upstream and
# overwrite the entry, or memoize this request even when its task's mode would not.
Control = Literal["bypass", "refresh", "always"]
CONTROLS: tuple[Control, ...] = ("bypass", "refresh", "always")
# Settings of the one shared store: a task cannot have its own.
STORE_WIDE = ("backend", "path", "max_entries", "max_bytes", "max_entry_bytes")


@dataclass(frozen=True, slots=True)
class Policy:
    """What the cache does for one task."""

    enabled: bool
    always: bool  # mode = "always": not only deterministic requests
    ttl_s: float | None
    salt: bytes  # the task's routing and output cap, in the key

    def memoizes(self, request: ChatRequest, view: RequestView, control: str | None) -> bool:
        if request.api != "chat" or request.body.get("logprobs"):
            return False  # other operations; logprobs a replayed stream could not carry
        if self.always or control == "always":
            return True
        temperature = view.sampling.get("temperature")
        return temperature == 0 and not isinstance(temperature, bool)

    def key(self, request: ChatRequest, view: RequestView) -> str:
        material = orjson.dumps(
            [KEY_VERSION, view.cache_key(), request.api, request.tenant, request.task]
        )
        return hashlib.sha256(material + self.salt).hexdigest()


@dataclass(frozen=True, slots=True)
class Policies:
    default: Policy
    tasks: Mapping[str, Policy]

    @property
    def any_enabled(self) -> bool:
        return self.default.enabled or any(p.enabled for p in self.tasks.values())

    def for_task(self, task: str | None) -> Policy:
        if task is None:
            return self.default
        return self.tasks.get(task, self.default)


def control_of(request: ChatRequest) -> Control | None:
    value = request.metadata.get("cache")
    if value is None:
        return None
    for control in CONTROLS:
        if value == control:
            return control
    raise BadRequest(f"x-thrifty-cache must be one of {', '.join(CONTROLS)}; got {value!r}")


def policies_for(settings: Settings) -> Policies:
    """The policy of every configured task and the default (``ConfigError`` when a task
    overrides a store-wide setting)."""
    routes = settings.task_routes()
    aliases = settings.routing.aliases
    for name, task in settings.tasks.items():
        shared = sorted(set(task.overrides().get("cache", {})) & set(STORE_WIDE))
        if shared:
            raise ConfigError(
                f"[tasks.{name}.cache] sets {', '.join(shared)}: the cache store is shared "
                "by every task; set it in [levers.cache]"
            )

    def policy(task: str | None) -> Policy:
        cache: CacheSettings = settings.levers_for(task).cache
        route = routes.get(task) if task is not None else None
        cap = settings.levers_for(task).output
        salt = orjson.dumps(
            [aliases.get(route, route) if route else None, cap.enabled, cap.max_output_tokens]
        )
        return Policy(cache.enabled, cache.mode == "always", cache.ttl_s, salt)

    tasks = {name: policy(name) for name in {*settings.tasks, *routes}}
    return Policies(policy(None), tasks)
