"""The library entry point: :class:`Thrifty` (async) and :class:`SyncThrifty` (blocking).

Both build the same pipeline the gateway uses::

    async with Thrifty(load_settings()) as thrifty:
        response = await thrifty.chat({"model": "gpt-4o-mini", "messages": [...]},
                                      task="summarize")
        vectors = await thrifty.embeddings({"model": "text-embedding-3-small",
                                            "input": ["a", "b"]})

``responses`` (OpenAI Responses API) and ``completions`` (legacy text completions) work the
same way; ``call(api, body)`` runs any of them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import threading
import time
from collections.abc import Coroutine, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from thrifty.api_requests import api_request
from thrifty.config import Settings, load_settings
from thrifty.dispatch import ProviderRegistry, build_registry
from thrifty.errors import ConfigError, ThriftyError
from thrifty.ledger import LedgerStore
from thrifty.ledger.stage import record_rejection
from thrifty.pipeline import Parts, build_pipeline
from thrifty.pricing import PriceBook
from thrifty.providers import HttpPool
from thrifty.requests import chat_request, check_label
from thrifty.stored_responses import StoredResponse, StoredResponses
from thrifty.types import Api, ChatRequest, ChatResponse, Dialect, Handler

if TYPE_CHECKING:
    from thrifty.sim import SimServer

log = logging.getLogger("thrifty")
T = TypeVar("T")


def tenant_of(tenant: str | None, api_key: str | bytes | None) -> str | None:
    """The tenant a request is booked under: the one the app named, else a short
    fingerprint of the key it sent (never the key itself), else ``None``."""
    if tenant is not None or not api_key:
        return tenant
    return _key_fingerprint(api_key.encode() if isinstance(api_key, str) else api_key)


@functools.lru_cache(maxsize=1024)
def _key_fingerprint(key: bytes) -> str:
    # Cached: an app sends the same key on every request (a sha256 costs a few µs).
    return "key:" + hashlib.sha256(key).hexdigest()[:12]


def check_labels(task: str | None, tenant: str | None) -> None:
    """The gateway's rule for task and tenant names (1-64 characters of ``A-Z a-z 0-9 . _
    : -``): a ``BadRequest`` before any call, so a name the ledger, the report and the
    background records keep is never cut or full of control codes."""
    if task is not None:
        check_label("task", task)
    if tenant is not None:
        check_label("tenant", tenant)


def check_routes(settings: Settings, registry: ProviderRegistry) -> None:
    """Every routing target (a task's model, an alias's model) must be served by a
    configured provider: a typo is a start-up error, not a 404 on every request."""
    aliases = settings.routing.aliases
    targets = {f"alias {name!r}": model for name, model in aliases.items()}
    for task, model in settings.task_routes().items():
        targets[f"task {task!r}"] = aliases.get(model, model)
    for what, model in targets.items():
        if registry.find(model) is None:
            names = ", ".join(u.name for u in registry.upstreams) or "none"
            raise ConfigError(
                f"{what} points to model {model!r}, which no configured provider serves "
                f"(providers: {names}); fix the name or add it to a provider's `models`"
            )


class Thrifty:
    """Owns the pipeline's resources (HTTP pool, ledger, price book, and the simulator
    when no provider key is configured)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._environ = dict(os.environ if environ is None else environ)
        self._pool: HttpPool | None = None
        self._ledger: LedgerStore | None = None
        self._handler: Handler | None = None
        self._registry: ProviderRegistry | None = None
        self._simulator: SimServer | None = None
        self.simulator_url: str | None = None
        self._start_lock = asyncio.Lock()
        self._resources: AsyncExitStack | None = None
        # Background Responses calls, booked when retrieved finished (stored_responses).
        self.stored_responses = StoredResponses(self)

    async def start(self) -> None:
        """Start the simulator (if used), the HTTP pool and the ledger.  If any part fails,
        what was already started is shut down again before the error propagates."""
        async with self._start_lock:  # concurrent first calls start everything once
            if self._handler is not None:
                return
            try:
                await self._start_parts()
            except BaseException:
                await self.aclose()
                raise

    async def _start_parts(self) -> None:
        if self.settings.uses_simulator(self._environ):
            await self._start_simulator()
        self._pool = HttpPool(limit=self.settings.gateway.max_upstream_connections)
        self._registry = build_registry(
            self.settings, self._pool, self._environ, simulator_url=self.simulator_url
        )
        check_routes(self.settings, self._registry)
        self._ledger = LedgerStore(self.settings.ledger.path)
        await self._ledger.open()
        self._resources = AsyncExitStack()
        parts = Parts(
            settings=self.settings,
            prices=PriceBook(self.settings.prices),
            ledger=self._ledger,
            providers=self._registry,
            resources=self._resources,
        )
        self._handler = await build_pipeline(parts)

    async def _start_simulator(self) -> None:
        from thrifty.sim import SimConfig, SimServer

        sim = self.settings.simulator
        config = SimConfig(
            latency_ms=sim.latency_ms, stream_chunk_delay_ms=sim.stream_chunk_delay_ms
        )
        server = SimServer(config, sim.host, sim.port)
        try:
            await server.start()
        except (OSError, RuntimeError) as exc:
            raise ConfigError(
                f"the simulator could not start on {sim.host}:{sim.port}: {exc}"
            ) from exc
        self._simulator = server
        self.simulator_url = server.base_url
        keys = sorted({p.api_key_env for p in self.settings.providers.values() if p.api_key_env})
        log.warning(
            "no provider API key found (%s): using the built-in simulator at %s "
            "(answers are simulated; set a key to use real providers)",
            ", ".join(keys) or "none configured",
            self.simulator_url,
        )

    @property
    def pool(self) -> HttpPool:
        if self._pool is None:
            raise RuntimeError("Thrifty.start() has not been called")
        return self._pool

    @property
    def providers(self) -> ProviderRegistry:
        if self._registry is None:
            raise RuntimeError("Thrifty.start() has not been called")
        return self._registry

    @property
    def ledger(self) -> LedgerStore:
        if self._ledger is None:
            raise RuntimeError("Thrifty.start() has not been called")
        return self._ledger

    async def handle(self, request: ChatRequest, *, pass_raw: bool = False) -> ChatResponse:
        """``request`` through the pipeline.  The answer's ``body`` is always parsed,
        unless ``pass_raw``: a large embeddings answer may then have only ``raw_body``
        (the upstream's bytes, to be passed on as they are; ``parsed_body()`` reads it)."""
        if self._handler is None:
            await self.start()
        assert self._handler is not None
        response = await self._handler(request)
        if not pass_raw:
            response.parsed_body()
        return response

    async def chat(
        self,
        body: Mapping[str, Any],
        *,
        dialect: Dialect = "openai",
        task: str | None = None,
        tenant: str | None = None,
    ) -> ChatResponse:
        """Run one chat call (``body`` in the given wire dialect) through the pipeline."""
        check_labels(task, tenant)
        return await self.handle(chat_request(dialect, dict(body), task=task, tenant=tenant))

    async def call(
        self,
        api: Api,
        body: Mapping[str, Any],
        *,
        task: str | None = None,
        tenant: str | None = None,
    ) -> ChatResponse:
        """Run one call of an OpenAI API operation (``"chat"``, ``"responses"``,
        ``"embeddings"``, ``"completions"``; ``body`` as the app would send it) through the
        pipeline.  The answer is ``response.body`` (or ``response.stream``) in that API's
        own wire shape.  A background Responses call is noted, to be booked when
        :meth:`retrieve_response` returns it finished."""
        check_labels(task, tenant)
        request = api_request(api, dict(body), task=task, tenant=tenant)
        response = await self.handle(request)
        if api == "responses":
            self.stored_responses.note(request, response)
        return response

    async def responses(
        self, body: Mapping[str, Any], *, task: str | None = None, tenant: str | None = None
    ) -> ChatResponse:
        """``POST /v1/responses`` (the OpenAI Responses API) through the pipeline."""
        return await self.call("responses", body, task=task, tenant=tenant)

    async def retrieve_response(
        self, response_id: str, *, provider: str | None = None
    ) -> StoredResponse:
        """``GET /v1/responses/{id}`` at the provider; the first call that returns a
        background response finished with usage books its work (see
        :mod:`thrifty.stored_responses`)."""
        return await self.stored_responses.retrieve(response_id, provider=provider)

    async def cancel_response(
        self, response_id: str, *, provider: str | None = None
    ) -> StoredResponse:
        """``POST /v1/responses/{id}/cancel``; books the response if it had finished."""
        return await self.stored_responses.cancel(response_id, provider=provider)

    async def delete_response(
        self, response_id: str, *, provider: str | None = None
    ) -> StoredResponse:
        """``DELETE /v1/responses/{id}``."""
        return await self.stored_responses.delete(response_id, provider=provider)

    async def embeddings(
        self, body: Mapping[str, Any], *, task: str | None = None, tenant: str | None = None
    ) -> ChatResponse:
        """``POST /v1/embeddings`` through the pipeline."""
        return await self.call("embeddings", body, task=task, tenant=tenant)

    async def completions(
        self, body: Mapping[str, Any], *, task: str | None = None, tenant: str | None = None
    ) -> ChatResponse:
        """``POST /v1/completions`` (legacy text completions) through the pipeline."""
        return await self.call("completions", body, task=task, tenant=tenant)

    async def reject(
        self,
        request: ChatRequest,
        error: ThriftyError,
        started: float | None = None,
    ) -> None:
        """Book a request refused before it reached the pipeline (unreadable body, bad
        JSON, a field of the wrong type...).  Front-ends call this, then answer with
        ``error``; a ledger that cannot take the row is logged, never raised."""
        if self._ledger is None:
            await self.start()
        try:
            await record_rejection(
                self.ledger, request, error, time.perf_counter() if started is None else started
            )
        except Exception:  # the app still gets its answer
            log.exception("could not book a rejected request in the ledger")

    async def aclose(self) -> None:
        self.stored_responses.close()
        if self._resources is not None:
            resources, self._resources = self._resources, None
            await resources.aclose()  # what the levers opened, newest first
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
        if self._ledger is not None:
            await self._ledger.close()
            self._ledger = None
        if self._simulator is not None:
            await self._simulator.stop()
            self._simulator = None
        self._handler = None

    async def __aenter__(self) -> Thrifty:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class SyncThrifty:
    """A blocking facade: runs a :class:`Thrifty` on an event loop in a background thread.
    Non-streaming calls only."""

    def __init__(
        self, settings: Settings | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._async = Thrifty(settings, environ=environ)
        self._run(self._async.start())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def chat(
        self,
        body: Mapping[str, Any],
        *,
        dialect: Dialect = "openai",
        task: str | None = None,
        tenant: str | None = None,
    ) -> ChatResponse:
        if body.get("stream"):
            raise ValueError("SyncThrifty does not stream; use Thrifty (async) for streams")
        return self._run(self._async.chat(body, dialect=dialect, task=task, tenant=tenant))

    def call(
        self,
        api: Api,
        body: Mapping[str, Any],
        *,
        task: str | None = None,
        tenant: str | None = None,
    ) -> ChatResponse:
        """:meth:`Thrifty.call`, blocking (no streams)."""
        if body.get("stream"):
            raise ValueError("SyncThrifty does not stream; use Thrifty (async) for streams")
        return self._run(self._async.call(api, body, task=task, tenant=tenant))

    def retrieve_response(self, response_id: str, *, provider: str | None = None) -> StoredResponse:
        """:meth:`Thrifty.retrieve_response`, blocking."""
        return self._run(self._async.retrieve_response(response_id, provider=provider))

    def cancel_response(self, response_id: str, *, provider: str | None = None) -> StoredResponse:
        """:meth:`Thrifty.cancel_response`, blocking."""
        return self._run(self._async.cancel_response(response_id, provider=provider))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._async.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncThrifty:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
