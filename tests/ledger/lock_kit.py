"""Another process that holds the ledger's write lock (``BEGIN IMMEDIATE``) for a while:
shared by the store's lock tests and the gateway's."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("ROLLBACK")
    conn.close()
    """
)


def hold_lock_in_another_process(db_path: Path, seconds: float) -> subprocess.Popen[str]:
    """A process that has taken the lock on ``db_path`` (returned once it has) and lets it
    go after ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db_path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    """End the holder now (a test that failed while it held the lock)."""
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
