"""Which provider serves which model, and the innermost handler that calls it."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

from thrifty.config import ProviderSettings, Settings
from thrifty.errors import ModelNotFound, UpstreamAuthError
from thrifty.providers import HttpPool, Provider, build_provider
from thrifty.types import ChatRequest, ChatResponse

SIMULATOR_KEY = "sim-key"


@dataclass(frozen=True, slots=True)
class Upstream:
    """A configured provider plus what pricing needs to know about it."""

    name: str
    settings: ProviderSettings
    provider: Provider | None  # None: no API key; calling it raises a helpful error

    @property
    def price_provider(self) -> str | None:
        return self.settings.price_provider

    @property
    def local(self) -> bool:
        return self.settings.local


class ProviderRegistry:
    """Maps a model name to the first provider whose ``models`` globs match it."""

    def __init__(self, upstreams: list[Upstream]) -> None:
        self._upstreams = upstreams
        self._by_model: dict[str, Upstream | None] = {}

    @property
    def upstreams(self) -> list[Upstream]:
        return list(self._upstreams)

    def named(self, name: str) -> Upstream | None:
        return next((u for u in self._upstreams if u.name == name), None)

    def find(self, model: str) -> Upstream | None:
        try:
            return self._by_model[model]
        except KeyError:
            pass
        found = next(
            (
                u
                for u in self._upstreams
                if any(fnmatch.fnmatchcase(model, pattern) for pattern in u.settings.models)
            ),
            None,
        )
        if len(self._by_model) < 4096:
            self._by_model[model] = found
        return found

    def resolve(self, model: str) -> Upstream:
        upstream = self.find(model)
        if upstream is None:
            names = ", ".join(u.name for u in self._upstreams) or "none"
            shown = model if len(model) <= 64 else model[:64] + "..."
            raise ModelNotFound(
                f"no configured provider serves model {shown!r} (providers: {names}). "
                "Add its name to a provider's `models` in thrifty.toml."
            )
        return upstream

    async def __call__(self, request: ChatRequest) -> ChatResponse:
        upstream = self.resolve(request.model)
        if upstream.provider is None:
            env = upstream.settings.api_key_env
            raise UpstreamAuthError(
                f"provider {upstream.name!r} has no API key: set the environment variable "
                f"{env} (or run without any provider key to use the built-in simulator)",
                provider=upstream.name,
            )
        response = await upstream.provider(request)
        response.served = request
        return response


def build_registry(
    settings: Settings,
    pool: HttpPool,
    environ: Mapping[str, str],
    *,
    simulator_url: str | None = None,
) -> ProviderRegistry:
    """Build the providers from settings.  With ``simulator_url``, every provider points at
    the simulator (which accepts any key); otherwise keys come from each provider's
    ``api_key_env`` and the ``openai_base_url`` / ``anthropic_base_url`` overrides apply."""
    upstreams: list[Upstream] = []
    for name, provider_settings in settings.providers.items():
        ps = provider_settings
        usable = True  # False: no key where one is needed; calls get a helpful error
        if simulator_url is not None:
            base = simulator_url + ("/v1" if ps.dialect == "openai" else "")
            ps = ps.model_copy(update={"base_url": base})
            api_key: str | None = SIMULATOR_KEY
        else:
            override = (
                settings.openai_base_url if ps.dialect == "openai" else settings.anthropic_base_url
            )
            if override:
                ps = ps.model_copy(update={"base_url": override.rstrip("/")})
            api_key = environ.get(ps.api_key_env) if ps.api_key_env else None
            # A base-URL override (a self-hosted server) may need no key at all.
            usable = bool(api_key) or ps.api_key_env is None or ps.local or bool(override)
        provider = build_provider(name, ps, pool, api_key=api_key) if usable else None
        upstreams.append(Upstream(name=name, settings=ps, provider=provider))
    return ProviderRegistry(upstreams)
