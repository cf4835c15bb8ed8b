"""``thrifty keys create | list | revoke``: the gateway keys apps send as their API key.

Keys are stored hashed next to the ledger (or at ``gateway.keys_path``); a new key is shown
once, on creation, and never again.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thrifty.config import Settings

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``thrifty keys`` on the top-level subparsers."""
    keys: argparse.ArgumentParser = sub.add_parser(
        "keys", help="gateway keys: the API keys apps send to thrifty", parents=parents
    )
    keys.add_argument("--ledger", help="ledger path; the key store lives next to it")
    keys.add_argument("--keys-file", help="key store path (default: next to the ledger)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser(
        "create", help="create a key for a tenant (shown once)", parents=parents
    )
    create.add_argument("--tenant", required=True, help="the tenant its requests are booked as")
    create.add_argument("--json", action="store_true")
    listing = keys_sub.add_parser(
        "list", help="list keys (never the keys themselves)", parents=parents
    )
    listing.add_argument("--json", action="store_true")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id", parents=parents)
    revoke.add_argument("id")
    for action in (create, listing, revoke):  # also after the action, where users type them
        action.add_argument("--ledger", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        action.add_argument("--keys-file", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return keys


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out ``thrifty keys <create|list|revoke>``; returns the exit status."""
    from thrifty.gateway.keys import KeyStore, keys_path

    store = KeyStore(keys_path(settings))
    if args.keys_command == "create":
        info, key = store.create(args.tenant)
        if args.json:
            print(json.dumps({"id": info.id, "tenant": info.tenant, "key": key}))
        else:
            print(key)
            print(
                f"key {info.id} for tenant {info.tenant!r} (store {store.path}); it is shown "
                "only now: apps send it as their API key",
                file=sys.stderr,
            )
        return 0
    if args.keys_command == "revoke":
        info, revoked_now = store.revoke(args.id)
        if revoked_now:
            print(f"revoked key {info.id} (tenant {info.tenant!r})", file=sys.stderr)
        else:  # the state asked for holds: success, as for a second `rm -f`
            print(
                f"key {info.id} (tenant {info.tenant!r}) was already revoked, at "
                f"{_when(info.revoked_at)}; nothing changed",
                file=sys.stderr,
            )
        return 0
    keys = store.list()
    if args.json:
        data = [
            {
                "id": k.id,
                "tenant": k.tenant,
                "hint": k.hint,
                "created_at": k.created_at,
                "revoked_at": k.revoked_at,
            }
            for k in keys
        ]
        print(json.dumps(data, indent=2))
        return 0
    if not keys:
        print(f"no gateway keys (store {store.path})", file=sys.stderr)
        return 0
    print(f"{'ID':<10}{'TENANT':<24}{'KEY':<12}{'CREATED':<22}REVOKED")
    for k in keys:
        hint = k.hint + "..."
        print(f"{k.id:<10}{k.tenant:<24}{hint:<12}{_when(k.created_at):<22}{_when(k.revoked_at)}")
    return 0
