"""``thrifty eval``: the group of offline evaluations.  Each module of :data:`SUBCOMMANDS`
has ``register(subcommands)`` that adds one subcommand whose parser sets ``handler``."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

SUBCOMMANDS = ("thrifty.eval.cache.command", "thrifty.eval.route.command")


def register(
    subcommands: argparse._SubParsersAction,  # type: ignore[type-arg]
    parents: Sequence[argparse.ArgumentParser] = (),
) -> None:
    """Add ``thrifty eval`` and its subcommands to the top-level ``subcommands``."""
    parser = subcommands.add_parser(
        "eval", help="offline evaluations of levers on labelled data", parents=list(parents)
    )
    group = parser.add_subparsers(dest="eval_command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(group)
    parser.set_defaults(func=lambda args: int(args.handler(args)))
