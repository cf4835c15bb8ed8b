"""Providers: the innermost handlers, which call an upstream LLM API over HTTP.

``build_provider(name, settings, pool, api_key=...)`` returns a callable
``async (ChatRequest) -> ChatResponse`` for the settings' wire dialect.  Usage is normalised
here (see :mod:`thrifty.providers.usage`), upstream failures become typed
:mod:`thrifty.errors` keeping the upstream status, and a request in the other dialect is
translated both ways (see :mod:`thrifty.dialects`).  The one resend at this layer: a
pooled connection the server dropped before answering (see ``BaseProvider._post``).
"""

from __future__ import annotations

from typing import Protocol

from thrifty.config import ProviderSettings
from thrifty.providers._http import HttpPool
from thrifty.providers.anthropic import AnthropicProvider
from thrifty.providers.base import BaseProvider, UpstreamStream
from thrifty.providers.openai_compat import OpenAIProvider
from thrifty.providers.usage import (
    AnthropicStreamUsage,
    OpenAIStreamUsage,
    usage_from_anthropic,
    usage_from_openai,
)
from thrifty.types import ChatRequest, ChatResponse, Dialect

__all__ = [
    "AnthropicProvider",
    "AnthropicStreamUsage",
    "HttpPool",
    "OpenAIProvider",
    "OpenAIStreamUsage",
    "Provider",
    "UpstreamStream",
    "build_provider",
    "usage_from_anthropic",
    "usage_from_openai",
]


class Provider(Protocol):
    name: str
    settings: ProviderSettings

    async def __call__(self, request: ChatRequest) -> ChatResponse: ...

    async def forward(
        self, path: str, payload: bytes | None, method: str = "POST"
    ) -> tuple[int, bytes]: ...


def build_provider(
    name: str, settings: ProviderSettings, pool: HttpPool, *, api_key: str | None
) -> Provider:
    """The provider for ``settings.dialect``.  ``api_key=None`` sends no auth header (local
    servers)."""
    classes: dict[Dialect, type[BaseProvider]] = {
        "openai": OpenAIProvider,
        "anthropic": AnthropicProvider,
    }
    return classes[settings.dialect](name, settings, pool, api_key=api_key)
