"""What every ``<library>_check.py`` shares: the structured-output model, the prompts, and
the JSON summary the test in the main process reads (one entry per case, in call order).

These scripts run in ``.venv-clients`` (see ``scripts/clients-venv.sh``), never in thrifty's
own venv, and talk to the gateway only over loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

PROMPT = "Say hello to the gateway in one short sentence."
STRUCTURED_PROMPT = "Name one city and its population."
MODEL = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-6"
ROUTED_TASK = {"x-thrifty-task": "extract"}  # the test's config routes this task to Claude


class City(BaseModel):
    name: str
    population: int


# A case is a plain function (a sync call) or an async one (run in its own event loop, so a
# library's sync API is never called from inside a running loop).
class AnyObject(BaseModel):
    """Any JSON object.  For JSON modes that carry no schema on the wire (``json_object``):
    the model is asked for the schema in the prompt, which the simulator cannot read, so only
    "a JSON object came back and the library parsed it" is checked there."""

    model_config = ConfigDict(extra="allow")


Case = Callable[[], Any] | Callable[[], Awaitable[Any]]


def describe(value: Any) -> dict[str, Any]:
    """The answer as the test sees it: its type name and a JSON-able form."""
    if isinstance(value, BaseModel):
        return {"type": type(value).__name__, "value": value.model_dump(mode="json")}
    if isinstance(value, dict):
        return {"type": "dict", "value": value}
    return {"type": type(value).__name__, "value": value if isinstance(value, str) else repr(value)}


class LoopbackOnly:
    """Refuses (and records) every connection or name lookup that would leave loopback, so a
    library phoning home (telemetry, price lists, tokenizer downloads) shows in the summary
    instead of reaching the network."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._connect = socket.socket.connect
        self._getaddrinfo = socket.getaddrinfo

    def install(self) -> None:
        guard = self

        def connect(sock: socket.socket, address: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not guard.loopback(address[0]):
                guard.attempts.append(f"connect {address[0]}")
                raise ConnectionRefusedError(f"no network in these checks ({address[0]})")
            return guard._connect(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None and not guard.loopback(host):
                guard.attempts.append(f"resolve {host}")
                raise socket.gaierror(socket.EAI_NONAME, f"no network in these checks ({host})")
            return guard._getaddrinfo(host, *args, **kwargs)

        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo

    @staticmethod
    def loopback(host: Any) -> bool:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name == "localhost":
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False


def gateway_url() -> str:
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} GATEWAY_URL")
    return sys.argv[1].rstrip("/")


def since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def main(cases: dict[str, Case]) -> None:
    """Run the cases one after another (each of them one gateway request) and print the
    summary as one JSON line; a case that raises is reported with its error, not hidden."""
    guard = LoopbackOnly()
    guard.install()
    summary: list[dict[str, Any]] = []
    for name, case in cases.items():
        started = time.monotonic()
        try:
            result = case()
            if asyncio.iscoroutine(result):
                result = asyncio.run(result)
            summary.append({"case": name, **describe(result), "seconds": since(started)})
        except Exception as exc:  # reported to the test, which fails on it
            detail = "".join(traceback.format_exception_only(exc)).strip()
            summary.append({"case": name, "error": detail[:2000], "seconds": since(started)})
    print(json.dumps({"cases": summary, "outbound": guard.attempts}))
