"""The gateway's server gives every request a DisconnectHook (scope extension
``thrifty.disconnect``) that fires when the client's connection is lost before the
response is complete, and never once the response is complete."""

from __future__ import annotations

import asyncio

from starlette.types import Receive, Scope, Send

from thrifty.serving import DisconnectHook, disconnect_hook, start_server

REQUEST = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"


class App:
    """Answers at once, or (``hold``) waits until the client leaves; notes each request's
    hook and when its callback ran."""

    def __init__(self, hold: bool) -> None:
        self.hold = hold
        self.hooks: list[DisconnectHook] = []
        self.left = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        hook = disconnect_hook(scope)
        assert hook is not None
        self.hooks.append(hook)
        hook.callback = self.left.set
        await receive()  # the body
        if self.hold:
            await asyncio.sleep(5)
            return
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})


async def test_the_hook_fires_when_the_client_leaves_before_the_answer() -> None:
    app = App(hold=True)
    server = await start_server(app)
    try:
        host, port = server.url.removeprefix("http://").split(":")
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(REQUEST)
        await writer.drain()
        for _ in range(200):
            if app.hooks:
                break
            await asyncio.sleep(0.01)
        assert not app.left.is_set()
        writer.close()
        await asyncio.wait_for(app.left.wait(), 5)
        assert app.hooks[0].fired
    finally:
        await server.stop()


async def test_the_hook_stays_quiet_once_the_answer_is_complete() -> None:
    app = App(hold=False)
    server = await start_server(app)
    try:
        host, port = server.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(2):  # two requests on one kept-alive connection
            writer.write(REQUEST)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            assert await reader.readexactly(2) == b"ok"
        writer.close()
        await asyncio.sleep(0.1)
        assert len(app.hooks) == 2 and app.hooks[0] is not app.hooks[1]
        assert not app.left.is_set() and not any(hook.fired for hook in app.hooks)
    finally:
        await server.stop()
