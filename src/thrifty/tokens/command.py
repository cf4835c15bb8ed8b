"""``thrifty tokens FILE --model M``: count a file's tokens offline.

FILE (``-``: standard input) is read as a request body (a JSON object with ``messages``,
and ``system``/``tools`` if any: chat framing counted), a JSON list of messages, or else
plain text (no framing).  Prints the count and how it was made; ``--json`` prints
``{"tokens", "exact", "method", "model", "input"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from thrifty.errors import ConfigError

__all__ = ["register", "run"]


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    tokens: argparse.ArgumentParser = sub.add_parser(
        "tokens", help="count a file's tokens offline (exact for OpenAI models)", parents=parents
    )
    tokens.add_argument("file", help="a text file, a JSON request body or message list; - = stdin")
    tokens.add_argument("--model", required=True, help="the model whose tokens to count")
    tokens.add_argument("--json", action="store_true", help="machine-readable output")
    tokens.set_defaults(func=run)


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {name}: {exc}") from None


def _parsed(text: str) -> Any:
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None  # text that merely starts with a bracket


def run(args: argparse.Namespace) -> int:
    from thrifty.tokens import TokenCounter
    from thrifty.tokens.counting import quick_load_count

    text = _read(args.file)
    parsed = _parsed(text)
    counter = TokenCounter(count_loader=quick_load_count)  # one count: the quickest load
    if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list):
        kind = "request"
        tools = parsed.get("tools")
        count = counter.count_messages(
            args.model,
            parsed["messages"],
            system=parsed.get("system"),
            tools=tools if isinstance(tools, list) else None,
        )
    elif isinstance(parsed, list) and all(isinstance(m, dict) for m in parsed):
        kind = "messages"
        count = counter.count_messages(args.model, parsed)
    else:
        kind = "text"
        count = counter.count_text(args.model, text)
    if args.json:
        out = {
            "tokens": count.tokens,
            "exact": count.exact,
            "method": count.method,
            "model": args.model,
            "input": kind,
        }
        print(json.dumps(out))
    else:
        how = "exact" if count.exact else "approximate"
        print(f"{count.tokens} tokens ({kind}, {count.method}, {how})")
    return 0
