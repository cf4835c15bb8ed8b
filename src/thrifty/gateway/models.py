"""``GET /v1/models`` and ``GET /v1/models/{id}``: the models the configured providers serve.

What is listed, in this order (first occurrence of a name wins, so the list has no
duplicates and the same order on every call):

1. the routing aliases (``owned_by: "thrifty-alias"``), in configuration order;
2. each provider, in configuration order:

   - with a ``price_provider`` (the default OpenAI and Anthropic providers): the chat models
     that the bundled genai-prices data prices for that provider, sorted by name;
   - an OpenAI-compatible provider without one (vLLM, llama.cpp, Ollama...): the
     upstream's own ``GET {base_url}/models`` (with the provider's key, a short timeout,
     cached for a minute); if that fails, its exact (non-glob) ``models`` names;
   - any other provider: its exact ``models`` names.

A provider's model is listed only if a request for it would be routed to that provider (the
first provider whose ``models`` globs match it), so everything listed can be called.  The
objects are OpenAI's model objects (``id``, ``object``, ``created``, ``owned_by``), which
the official SDKs and chat UIs (Open WebUI, LibreChat) read.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from thrifty.dispatch import Upstream
from thrifty.providers.base import BaseProvider
from thrifty.runtime import Thrifty

log = logging.getLogger("thrifty.gateway")

ALIAS_OWNER = "thrifty-alias"
UPSTREAM_TIMEOUT_S = 3.0
CACHE_TTL_S = 60.0
FAILURE_TTL_S = 10.0  # a server that is still starting is asked again soon
MAX_LIST_BYTES = 4 * 1024 * 1024
MAX_UPSTREAM_MODELS = 2000
MAX_ID_CHARS = 256

# Parts of a priced model's name that mark it as something other than a chat model
# (embeddings, audio, images, realtime, moderation, legacy completions, Responses-only).
_NOT_CHAT = frozenset(
    {
        "ada",
        "audio",
        "babbage",
        "codex",
        "computer",
        "curie",
        "davinci",
        "embed",
        "embedding",
        "image",
        "instruct",
        "live",
        "moderation",
        "realtime",
        "research",
        "transcribe",
        "translate",
        "tts",
        "whisper",
    }
)
_SPLIT = re.compile(r"[-_.:/]")
_PRINTABLE_ID = re.compile(r"[\x21-\x7e\u00a0-\U0010ffff]+")


def is_chat_model(model: str) -> bool:
    """Whether a priced model's name looks like a chat model (see ``_NOT_CHAT``)."""
    return not any(part in _NOT_CHAT for part in _SPLIT.split(model.lower()))


def exact_names(upstream: Upstream) -> list[str]:
    return [p for p in upstream.settings.models if not any(ch in p for ch in "*?[")]


def model_object(model: str, owner: str, created: int = 0) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": created, "owned_by": owner}


@dataclass
class _Cached:
    models: list[tuple[str, int]]
    expires: float


@dataclass
class ModelCatalog:
    """Builds the model list of one gateway; keeps the upstream lists for a minute."""

    thrifty: Thrifty
    clock: Any = time.monotonic
    _priced: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def listing(self) -> list[dict[str, Any]]:
        registry = self.thrifty.providers
        seen: dict[str, dict[str, Any]] = {}
        for alias in self.thrifty.settings.routing.aliases:
            seen.setdefault(alias, model_object(alias, ALIAS_OWNER))
        upstreams = registry.upstreams
        lists = await asyncio.gather(*(self._models_of(u) for u in upstreams))
        for upstream, models in zip(upstreams, lists, strict=True):
            for model, created in models:
                if model in seen:
                    continue
                routed = registry.find(model)
                if routed is not None and routed.name == upstream.name:
                    seen[model] = model_object(model, upstream.name, created)
        return list(seen.values())

    async def find(self, model: str) -> dict[str, Any] | None:
        return next((m for m in await self.listing() if m["id"] == model), None)

    async def _models_of(self, upstream: Upstream) -> list[tuple[str, int]]:
        if upstream.price_provider is not None:
            return [(m, 0) for m in self._priced_models(upstream.price_provider)]
        if upstream.settings.dialect == "openai" and upstream.provider is not None:
            return await self._upstream_models(upstream)
        return [(m, 0) for m in exact_names(upstream)]

    def _priced_models(self, price_provider: str) -> tuple[str, ...]:
        try:
            return self._priced[price_provider]
        except KeyError:
            pass
        from thrifty.pricing.genai import load_providers, provider_model_ids

        ids = provider_model_ids(load_providers(), price_provider)
        found = tuple(m for m in ids if is_chat_model(m))
        self._priced[price_provider] = found
        return found

    async def _upstream_models(self, upstream: Upstream) -> list[tuple[str, int]]:
        cached = self._cache.get(upstream.name)
        if cached is not None and cached.expires > self.clock():
            return cached.models
        lock = self._locks.setdefault(upstream.name, asyncio.Lock())
        async with lock:  # concurrent listings ask the upstream once
            cached = self._cache.get(upstream.name)
            if cached is not None and cached.expires > self.clock():
                return cached.models
            try:
                models = await self._fetch(upstream)
                ttl = CACHE_TTL_S
            except Exception as exc:  # any failure: the configured names, never an error
                log.warning(
                    "could not list the models of provider %r (%s); listing its configured "
                    "model names instead",
                    upstream.name,
                    type(exc).__name__,
                )
                models = [(m, 0) for m in exact_names(upstream)]
                ttl = FAILURE_TTL_S
            self._cache[upstream.name] = _Cached(models, self.clock() + ttl)
            return models

    async def _fetch(self, upstream: Upstream) -> list[tuple[str, int]]:
        headers = {"Accept": "application/json"}
        provider = upstream.provider
        if isinstance(provider, BaseProvider):
            auth = provider._headers.get("Authorization")
            if auth:
                headers["Authorization"] = auth
        timeout = aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_S)
        session = self.thrifty.pool.session()
        async with session.get(
            upstream.settings.base_url + "/models",
            headers=headers,
            timeout=timeout,
            allow_redirects=False,  # a key must not follow a redirect
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"status {resp.status}")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(65536):
                body += chunk
                if len(body) > MAX_LIST_BYTES:
                    raise RuntimeError("model list too large")
        return parse_model_list(orjson.loads(bytes(body)))


def parse_model_list(payload: Any) -> list[tuple[str, int]]:
    """``(id, created)`` pairs from an OpenAI-style ``{"data": [{"id": ...}, ...]}`` (also
    llama.cpp's ``{"models": [{"model": ...}]}``); names that are not printable, short
    strings are skipped."""
    if not isinstance(payload, dict):
        raise ValueError("model list is not an object")
    items = payload.get("data")
    key = "id"
    if not isinstance(items, list):
        items, key = payload.get("models"), "model"
    if not isinstance(items, list):
        raise ValueError("model list has no data")
    out: list[tuple[str, int]] = []
    for item in items[:MAX_UPSTREAM_MODELS]:
        if not isinstance(item, dict):
            continue
        model = item.get(key)
        if not isinstance(model, str) or not 0 < len(model) <= MAX_ID_CHARS:
            continue
        if not _PRINTABLE_ID.fullmatch(model):
            continue
        created = item.get("created")
        if not isinstance(created, int) or isinstance(created, bool) or created < 0:
            created = 0
        out.append((model, created))
    return out
