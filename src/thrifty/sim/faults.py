"""Fault injection: per-request header, prompt marker, or a queue set by an admin call."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Literal, cast

FaultKind = Literal["403", "404", "413", "429", "500", "503", "529", "slow", "cut", "timeout"]
STATUS_FAULTS: frozenset[str] = frozenset({"403", "404", "413", "429", "500", "503", "529"})
FAULT_KINDS: frozenset[str] = STATUS_FAULTS | {"slow", "cut", "timeout"}
SLOW_SECONDS = 2.0
TIMEOUT_SECONDS = 60.0

_FAULT_MARKER_RE = re.compile(r"\[\[sim:fault=([\w]+)\]\]")
_LATENCY_MARKER_RE = re.compile(r"\[\[sim:latency=(\d+(?:\.\d+)?)\]\]")


class FaultError(ValueError):
    """An unknown fault name or a malformed latency was asked for."""


def parse_fault(value: str) -> FaultKind:
    value = value.strip().lower()
    if value not in FAULT_KINDS:
        raise FaultError(
            f"unknown simulator fault {value!r}; expected one of {sorted(FAULT_KINDS)}"
        )
    return cast(FaultKind, value)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with one request: an optional fault and extra latency in seconds."""

    fault: FaultKind | None = None
    extra_latency_s: float = 0.0


class FaultQueue:
    """Faults queued for the next N chat requests (``POST /_sim/faults``)."""

    def __init__(self) -> None:
        self._queue: deque[FaultKind] = deque()

    def push(self, fault: FaultKind, count: int) -> None:
        self._queue.extend([fault] * count)

    def pop(self) -> FaultKind | None:
        return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        self._queue.clear()

    def pending(self) -> list[str]:
        return list(self._queue)


def plan_request(
    header_fault: bytes | None,
    header_latency: bytes | None,
    last_user_text: str,
    queue: FaultQueue,
) -> Plan:
    """Decide the fault for one request: header first, then prompt marker, then the queue.

    Raises :class:`FaultError` for an unknown fault name or a bad latency value.
    """
    fault: FaultKind | None = None
    extra = 0.0
    if header_fault is not None:
        fault = parse_fault(header_fault.decode("latin-1"))
    if header_latency is not None:
        try:
            extra += float(header_latency) / 1000.0
        except ValueError:
            raise FaultError(f"bad x-sim-latency-ms header: {header_latency!r}") from None
    if "[[sim:" in last_user_text:
        if fault is None and (m := _FAULT_MARKER_RE.search(last_user_text)):
            fault = parse_fault(m.group(1))
        if m := _LATENCY_MARKER_RE.search(last_user_text):
            extra += float(m.group(1)) / 1000.0
    if fault is None:
        fault = queue.pop()
    if fault == "slow":
        extra += SLOW_SECONDS
    elif fault == "timeout":
        extra += TIMEOUT_SECONDS
    return Plan(fault=fault, extra_latency_s=max(extra, 0.0))
