"""Auth and request checks: the CPU the gateway spends per request deciding whether to
serve it, against the target "auth and the new checks cost at most 0.1 ms p50".

Each check is the gateway's own function, called in-process on what a real request
carries, alternated in a shuffled order per round so that the machine's load falls on all
of them alike:

* ``guard, loopback``: :meth:`thrifty.gateway.auth.Guard.check` with no key store (Host,
  Origin and Content-Type read from the ASGI headers of an SDK-like request).
* ``guard, key``: the same with a key store of ``--keys`` active keys and the request's
  ``Authorization: Bearer`` key (a SHA-256 of the key and a dict lookup).
* ``guard, wrong key``: a key that is not in the store (the refusal is built).
* ``validate, openai`` / ``validate, anthropic``: :func:`thrifty.requests.validate_body` on a
  chat request of ``--messages`` messages (model name, roles, content part types, stream
  and token fields), the body already parsed.
* ``labels``: the task and tenant header checks (:func:`thrifty.requests.check_label`).

For scale, ``parse body`` is ``orjson.loads`` of the OpenAI request's bytes: work every
request needs anyway.  Per check: p50 and p95 of the CPU time per call (thread time over a
batch of ``--batch`` calls, divided), in microseconds.

    .venv/bin/python bench/request_checks.py [--rounds 200] [--messages 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from thrifty.gateway.auth import Guard
from thrifty.gateway.keys import ActiveKeys, KeyStore
from thrifty.requests import check_label, validate_body

TARGET_US = 100.0


def headers(key: str | None) -> list[tuple[bytes, bytes]]:
    """The headers the official openai SDK sends, as uvicorn hands them over."""
    sent = [
        (b"host", b"127.0.0.1:8787"),
        (b"accept-encoding", b"gzip, deflate"),
        (b"connection", b"keep-alive"),
        (b"accept", b"application/json"),
        (b"content-type", b"application/json"),
        (b"user-agent", b"OpenAI/Python 2.8.1"),
        (b"x-stainless-lang", b"python"),
        (b"x-stainless-package-version", b"2.8.1"),
        (b"x-stainless-os", b"Linux"),
        (b"x-stainless-arch", b"x64"),
        (b"x-stainless-runtime", b"CPython"),
        (b"x-stainless-runtime-version", b"3.11.9"),
        (b"x-stainless-async", b"false"),
        (b"x-stainless-retry-count", b"0"),
        (b"x-stainless-read-timeout", b"600"),
        (b"x-thrifty-task", b"summarize"),
        (b"content-length", b"4210"),
    ]
    if key is not None:
        sent.append((b"authorization", b"Bearer " + key.encode()))
    return sent


def chat(dialect: str, messages: int) -> dict[str, Any]:
    turns: list[dict[str, Any]] = []
    for i in range(messages):
        role = "user" if i % 2 == 0 else "assistant"
        if i == messages - 1 and dialect == "openai":
            content: Any = [{"type": "text", "text": "And the last point? " * 10}]
        elif i == messages - 1:
            content = [{"type": "text", "text": "And the last point? " * 10}]
        else:
            content = f"Turn {i}: " + "words of an earlier turn " * 40
        turns.append({"role": role, "content": content})
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": turns, "stream": True}
    if dialect == "anthropic":
        body.update(model="claude-haiku-4-5", max_tokens=1024, system="Be brief.")
    else:
        body["messages"] = [{"role": "system", "content": "Be brief."}, *turns]
        body["max_tokens"] = 1024
    return body


def per_call_us(call: Callable[[], object], batch: int) -> float:
    start = time.thread_time()
    for _ in range(batch):
        call()
    return (time.thread_time() - start) / batch * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--batch", type=int, default=200, help="calls per timing")
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--keys", type=int, default=100, help="active keys in the store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store_path = Path(folder) / "keys.db"
        store = KeyStore(store_path)
        keys = [store.create(f"tenant-{i}")[1] for i in range(args.keys)]
        with_keys = Guard(ActiveKeys(store_path), require_auth=False)
        without = Guard(ActiveKeys(Path(folder) / "absent.db"), require_auth=False)
        loopback_scope = {"headers": headers(None)}
        key_scope = {"headers": headers(keys[len(keys) // 2])}
        wrong_scope = {"headers": headers("tk-" + "x" * 43)}
        assert without.check(loopback_scope).error is None
        assert with_keys.check(key_scope).tenant == f"tenant-{len(keys) // 2}"
        assert with_keys.check(wrong_scope).error is not None
        openai_body, anthropic_body = (
            chat("openai", args.messages),
            chat("anthropic", args.messages),
        )
        raw = orjson.dumps(openai_body)
        checks: dict[str, Callable[[], object]] = {
            "guard, loopback": lambda: without.check(loopback_scope),
            "guard, key": lambda: with_keys.check(key_scope),
            "guard, wrong key": lambda: with_keys.check(wrong_scope),
            "validate, openai": lambda: validate_body("openai", openai_body),
            "validate, anthropic": lambda: validate_body("anthropic", anthropic_body),
            "labels": lambda: (check_label("task", "summarize"), check_label("tenant", "acme")),
            "parse body": lambda: orjson.loads(raw),
        }
        times: dict[str, list[float]] = {name: [] for name in checks}
        rng = random.Random(6)
        for _ in range(args.rounds):
            order = list(checks)
            rng.shuffle(order)
            for name in order:
                times[name].append(per_call_us(checks[name], args.batch))
    print(f"request of {args.messages} messages ({len(raw):,} bytes), {args.keys} keys in store")
    print("| check | CPU p50 | CPU p95 |")
    print("|---|---|---|")
    for name, values in times.items():
        p95 = statistics.quantiles(values, n=20)[18]
        print(f"| {name} | {statistics.median(values):.2f} µs | {p95:.2f} µs |")
    worst = (
        statistics.median(times["guard, key"])
        + statistics.median(times["validate, anthropic"])
        + statistics.median(times["labels"])
    )
    verdict = "met" if worst <= TARGET_US else "NOT met"
    print(
        f"auth + validation + labels, per request: {worst:.2f} µs p50 (target ≤ 100 µs: {verdict})"
    )


if __name__ == "__main__":
    main()
