"""Run the simulator with uvicorn, standalone or inside an existing event loop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import socket
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from thrifty.sim.app import create_app
from thrifty.sim.config import SimConfig

_CUT_LOG = "ASGI callable returned without completing response."


class _QuietCut(logging.Filter):
    """Drops uvicorn's error line for the deliberate mid-response aborts of ``cut``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _CUT_LOG


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready: asyncio.Event | None) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._ready is not None:
            self._ready.set()


def _uvicorn_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


async def _run(server: _Server, sockets: list[socket.socket] | None = None) -> None:
    quiet = _QuietCut()
    log = logging.getLogger("uvicorn.error")
    log.addFilter(quiet)
    try:
        await server.serve(sockets)
    except asyncio.CancelledError:
        if server.started:
            server.should_exit = True
            await server.shutdown(sockets)
        raise
    finally:
        log.removeFilter(quiet)


async def serve(
    config: SimConfig,
    host: str,
    port: int,
    *,
    ready: asyncio.Event | None = None,
    app: Starlette | None = None,
) -> None:
    """Serve the simulator until cancelled (or a signal, when run in the main thread).

    ``ready`` is set once the socket listens.  Pass ``app`` to serve an app you already made
    (to reach its state); otherwise one is made from ``config``.
    """
    server = _Server(_uvicorn_config(app or create_app(config), host, port), ready)
    await _run(server)


def run(config: SimConfig, host: str, port: int) -> None:
    """Blocking variant of :func:`serve` for a command line: its own event loop, on uvloop
    when installed.  Returns after SIGINT/SIGTERM (a KeyboardInterrupt may follow)."""
    uv_config = _uvicorn_config(create_app(config), host, port)
    with asyncio.Runner(loop_factory=uv_config.get_loop_factory()) as runner:
        runner.run(_run(_Server(uv_config, None)))


class SimServer:
    """A simulator on a loopback port, for tests and benchmarks::

        async with SimServer(SimConfig()) as sim:
            client = AsyncOpenAI(base_url=sim.openai_base_url, api_key="x")

    ``port=0`` picks a free port (see :attr:`port`).
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        app: Starlette | None = None,
    ) -> None:
        self.config = config or SimConfig()
        self.app = app or create_app(self.config)
        self.host = host
        self._requested_port = port
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        """Root URL (the Anthropic SDK's ``base_url``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``.../v1`` (the OpenAI SDK's ``base_url``)."""
        return self.base_url + "/v1"

    async def start(self) -> None:
        # IPPROTO_TCP: the standard event loop sets TCP_NODELAY only on sockets of that
        # protocol (uvloop on all); without it an answer written in two parts (head, then
        # body) waits about 40 ms for the client's delayed ACK on a kept-alive connection.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        ready = asyncio.Event()
        config = _uvicorn_config(self.app, self.host, self.port)
        self._server = _Server(config, ready)
        self._sock = sock
        self._task = asyncio.create_task(_run(self._server, [sock]))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            sock.close()
            await self._task  # re-raises the startup failure
            raise RuntimeError("simulator server exited during startup")

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sock.close()
        self._server = None
        self._task = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
