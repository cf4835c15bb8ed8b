"""What the gateway's Responses side routes (:mod:`thrifty.gateway.response_routes`) and the
library's (:mod:`thrifty.stored_responses`) share: which provider a response id goes to,
the forwarded call itself, and the ledger stage a finished background response is booked
through (:func:`thrifty.gateway.response_booking_rows.book_if_finished`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thrifty.errors import BadRequest, NotFound, UpstreamAuthError, UpstreamUnavailable

if TYPE_CHECKING:
    from thrifty.dispatch import ProviderRegistry, Upstream
    from thrifty.runtime import Thrifty
    from thrifty.types import Stage

DEFAULT_PROVIDER = "openai"
MAX_PROVIDER_SHOWN = 64


def side_upstream(providers: ProviderRegistry, named: str | None) -> Upstream:
    """The provider a response id's call goes to: the one ``named`` (the app echoes the
    ``x-thrifty-provider`` header), else the provider called ``openai`` when it speaks the
    OpenAI dialect, else the first OpenAI-dialect provider configured."""
    if named:
        found = providers.named(named)
        shown = named[:MAX_PROVIDER_SHOWN]
        if found is None:
            raise NotFound(f"no provider named {shown!r} is configured")
        if found.settings.dialect != "openai":
            raise BadRequest(f"provider {shown!r} does not speak the OpenAI API")
        return found
    default = providers.named(DEFAULT_PROVIDER)
    if default is not None and default.settings.dialect == "openai":
        return default
    first = next((u for u in providers.upstreams if u.settings.dialect == "openai"), None)
    if first is None:
        raise NotFound("no OpenAI-API provider is configured to serve the Responses API")
    return first


async def forward_side(
    upstream: Upstream, method: str, path: str, body: bytes | None
) -> tuple[int, bytes]:
    """(status, body) of ``method path`` at ``upstream`` (an error body scrubbed of its
    key); a provider without its key is an :class:`UpstreamAuthError` naming the variable,
    and a redirect (never followed, its ``Location`` never passed on) a 502."""
    provider = upstream.provider
    if provider is None:
        env = upstream.settings.api_key_env
        raise UpstreamAuthError(
            f"provider {upstream.name!r} has no API key: set the environment variable {env}",
            provider=upstream.name,
        )
    status, answer = await provider.forward(path, body, method)
    if 300 <= status < 400:
        raise UpstreamUnavailable(
            f"{upstream.name} answered {method} {path.split('?')[0][:200]} with a redirect "
            f"(HTTP {status}), which the gateway does not follow",
            status=502,
            provider=upstream.name,
        )
    return status, answer


def booking_ledger(thrifty: Thrifty) -> Stage:
    """The ledger stage of a started runtime, pricing as its pipeline does: what books a
    finished background response outside any pipeline call."""
    from thrifty.batch.service import runtime_parts
    from thrifty.ledger.stage import ledger_stage
    from thrifty.pipeline import accountant_for

    return ledger_stage(thrifty.ledger, accountant_for(runtime_parts(thrifty)))
