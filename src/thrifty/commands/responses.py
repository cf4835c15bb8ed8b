"""``thrifty responses pending``: the background Responses API calls made through thrifty
(its gateway or its library) whose work is not booked yet (docs/openai-apis.md,
"Background responses are booked when retrieved").

Such a response is booked the first time thrifty sees it finished (a retrieve or a
cancel); until then its cost is unknown.  This lists them, oldest first, from the record
file next to the ledger (``thrifty-response-owners.db``), without creating it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import UTC, datetime
from typing import Any

from thrifty.config import load_settings
from thrifty.errors import ConfigError

__all__ = ["register"]

DEFAULT_LIMIT = 50


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    responses: argparse.ArgumentParser = sub.add_parser(
        "responses", help="background Responses API calls not booked yet", parents=parents
    )
    responses.add_argument("--ledger", help="ledger path; the records live next to it")
    actions = responses.add_subparsers(dest="responses_command", required=True)
    pending = actions.add_parser("pending", help="background responses not booked yet")
    pending.add_argument(  # also after the action, where users type it
        "--ledger", default=argparse.SUPPRESS, help="ledger path; the records live next to it"
    )
    pending.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help="list at most this many (oldest first)"
    )
    pending.add_argument("--json", action="store_true", help="machine-readable output")
    responses.set_defaults(func=run)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def run(args: argparse.Namespace) -> int:
    from thrifty.gateway.record_file import MAX_ROWS
    from thrifty.gateway.response_bookings import BackgroundBookings
    from thrifty.gateway.response_owners import owners_path

    if not 1 <= args.limit <= MAX_ROWS:
        raise ConfigError(f"--limit must be 1 to {MAX_ROWS} (the most records the file holds)")
    path = owners_path(load_settings(args.config, ledger={"path": args.ledger}))
    listed: list[dict[str, Any]] = []
    total = 0
    if path.exists():
        bookings = BackgroundBookings(path, read_only=True)
        try:
            total = bookings.pending()
            listed = [
                {
                    "response_id": p.response_id,
                    "created": _when(p.created_at),
                    "tenant": p.tenant,
                    "task": p.task,
                    "model": p.model,
                    "provider": p.provider,
                    "request_id": p.request_id,
                }
                for p in bookings.waiting_list(args.limit)
            ]
        except sqlite3.Error as exc:
            if "no such table" not in str(exc):  # else: no background response noted yet
                raise ConfigError(f"cannot read {path}: {exc}") from None
        finally:
            bookings.close()
    if args.json:
        json.dump({"path": str(path), "pending": total, "responses": listed}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    print(f"{total} background response(s) not booked yet ({path})")
    for item in listed:
        print(
            f"  {item['response_id']}  {item['created']}  tenant {item['tenant'] or '-'}  "
            f"task {item['task'] or '-'}  {item['model']}"
        )
    if total > len(listed):
        why = "--limit" if len(listed) == args.limit else "unreadable records, not listed"
        print(f"  ... and {total - len(listed)} more ({why})")
    return 0
