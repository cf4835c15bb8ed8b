"""Hermetic test defaults: no provider keys, no THRIFTY_* settings from the developer's
shell, and no connection leaves loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY")


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("THRIFTY_") or name in _PROVIDER_KEYS:
            monkeypatch.delenv(name, raising=False)
    real_connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                raise AssertionError(f"test tried to resolve a non-literal host {host!r}") from None
            if not ip.is_loopback:
                raise AssertionError(f"test tried to reach {host}: tests stay on loopback")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    yield
