"""Run in a subprocess by test_restart.py: submit (once) and poll a batch until it is done,
killing this very process with SIGKILL at the ``--crash-at`` event's ``--nth`` occurrence.

    python -m tests.batch.crash_worker SIM_URL TMP_DIR LINES_FILE [--crash-at EVENT --nth N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

import orjson

from thrifty.batch import Batches
from thrifty.config import Settings
from thrifty.runtime import Thrifty

SUBMISSION = "submission.json"


def remember(marker: Path, submission_id: str) -> None:
    marker.write_bytes(orjson.dumps({"id": submission_id}))


def known_submission(tmp: Path) -> str | None:
    marker = tmp / SUBMISSION
    return str(orjson.loads(marker.read_bytes())["id"]) if marker.exists() else None


async def main(args: argparse.Namespace, lines: list[bytes], known: str | None) -> None:
    tmp = Path(args.tmp)
    settings = Settings.model_validate(
        {
            "ledger": {"path": str(tmp / "ledger.db")},
            "openai_base_url": args.sim + "/v1",
            "anthropic_base_url": args.sim,
        }
    )
    seen: dict[str, int] = {}

    def observer(event: str, subject: str) -> None:
        seen[event] = seen.get(event, 0) + 1
        if event == args.crash_at and seen[event] == args.nth:
            os.kill(os.getpid(), signal.SIGKILL)

    marker = tmp / SUBMISSION
    async with (
        Thrifty(settings, environ={}) as thrifty,
        Batches.of(thrifty, observer=observer) as batches,
    ):
        if known is not None:
            handle = batches.handle(known)
        else:
            submitted = await batches.submit(lines)
            assert submitted.handle is not None
            handle = submitted.handle
            # The id is kept outside the queue only to find it again; the queue has it too.
            remember(marker, handle.id)
            observer("submitted", handle.id)
        await handle.wait(0.01)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("sim")
    parser.add_argument("tmp")
    parser.add_argument("lines")
    parser.add_argument("--crash-at")
    parser.add_argument("--nth", type=int, default=1)
    arguments = parser.parse_args()
    lines = Path(arguments.lines).read_bytes().splitlines()
    asyncio.run(main(arguments, lines, known_submission(Path(arguments.tmp))))
