"""Gateway keys: the API keys apps send to thrifty (not the provider keys thrifty holds).

Each key names a tenant, which the ledger books the key's requests under.  Keys are random
(256 bits from :mod:`secrets`) and stored only as their SHA-256: for a high-entropy random
secret a fast hash is enough (nobody can brute-force 2**256), and it keeps the per-request
check to one hash and one dictionary lookup.  The plain key is shown once, when created.

The store is its own small SQLite file (by default next to the ledger: ``thrifty.db`` ->
``thrifty-keys.db``; ``gateway.keys_path`` to choose another), in rollback-journal mode so
that every change updates the file's modification time: a running gateway notices a new or
revoked key within :data:`REFRESH_S` seconds by ``stat``-ing the file, without a query per
request.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from thrifty.config import Settings
from thrifty.errors import ConfigError

KEY_PREFIX = "thr-"
REFRESH_S = 1.0
TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
)
"""


def keys_path(settings: Settings) -> Path:
    """Where the key store lives: ``gateway.keys_path``, else next to the ledger."""
    if settings.gateway.keys_path is not None:
        return Path(settings.gateway.keys_path)
    return settings.ledger.beside("keys")


def store_exists(path: Path) -> bool:
    """Whether the key store file exists; a path that exists but cannot be the store (a
    directory, something unreadable) is a :class:`ConfigError` naming it, never "no keys":
    reading it as empty would quietly turn a keyed gateway into a loopback-only one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ConfigError(
            f"the key store {path} could not be read ({exc.strerror}): fix its permissions, "
            "or point gateway.keys_path (--keys-file) at the store"
        ) from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise ConfigError(
            f"the key store {path} is {kind}: point gateway.keys_path (--keys-file) at the "
            "store's file (for example thrifty-keys.db in that directory), or move it away"
        )
    if not os.access(path, os.R_OK):
        raise ConfigError(
            f"the key store {path} is not readable by this user: fix its permissions (the "
            "gateway and `thrifty keys` need to read it)"
        )
    return True


def hash_key(key: str | bytes) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(raw).hexdigest()


def valid_tenant(name: str) -> bool:
    return TENANT_RE.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    tenant: str
    hint: str  # the key's first characters, to tell keys apart; never enough to use it
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyStore:
    """Create, list and revoke keys (the ``thrifty keys`` command uses it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=10.0)) as db:
                db.execute("PRAGMA journal_mode=DELETE")
                db.execute(_SCHEMA)
                with db:
                    yield db
        except sqlite3.Error as exc:
            raise ConfigError(f"the key store {self.path} could not be used: {exc}") from exc
        if os.name == "posix":
            os.chmod(self.path, 0o600)

    def create(self, tenant: str) -> tuple[KeyInfo, str]:
        """A new key for ``tenant``: its record and the key itself (shown once)."""
        if not valid_tenant(tenant):
            raise ConfigError(
                f"tenant name {tenant[:80]!r} is not valid: 1-64 characters, letters, digits "
                "and . _ : - (starting with a letter or digit)"
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        info = KeyInfo(
            id=secrets.token_hex(4),
            tenant=tenant,
            hint=key[: len(KEY_PREFIX) + 4],
            created_at=time.time(),
            revoked_at=None,
        )
        with self._connect() as db:
            db.execute(
                "INSERT INTO gateway_keys (id, tenant, key_sha256, hint, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (info.id, info.tenant, hash_key(key), info.hint, info.created_at),
            )
        return info, key

    def list(self) -> list[KeyInfo]:
        if not store_exists(self.path):
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, tenant, hint, created_at, revoked_at FROM gateway_keys "
                "ORDER BY created_at, id"
            ).fetchall()
        return [KeyInfo(*row) for row in rows]

    def revoke(self, key_id: str) -> tuple[KeyInfo, bool]:
        """Revoke a key by id (a running gateway refuses it within a second or so): its
        record, and whether this call revoked it (``False``: it was revoked already, and
        its ``revoked_at`` is the first revocation's)."""
        if not store_exists(self.path):
            raise ConfigError(f"no key {key_id[:40]!r}: the key store {self.path} does not exist")
        with self._connect() as db:
            changed = db.execute(
                "UPDATE gateway_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (time.time(), key_id),
            ).rowcount
            row = db.execute(
                "SELECT id, tenant, hint, created_at, revoked_at FROM gateway_keys WHERE id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise ConfigError(f"no key {key_id[:40]!r} (see `thrifty keys list`)")
        return KeyInfo(*row), changed == 1


def read_keys(path: Path) -> tuple[dict[str, str], int]:
    """(sha256 hex -> tenant for every key not revoked, how many keys the store holds,
    revoked ones included); empty when there is no store.  A path that cannot be the store
    (a directory, an unreadable or damaged file) is a :class:`ConfigError`."""
    if not store_exists(path):
        return {}, 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)) as db:
            rows = db.execute("SELECT key_sha256, tenant, revoked_at FROM gateway_keys").fetchall()
    except sqlite3.Error as exc:
        if "no such table" in str(exc):
            return {}, 0
        raise ConfigError(f"the key store {path} could not be read: {exc}") from exc
    return {digest: tenant for digest, tenant, revoked in rows if revoked is None}, len(rows)


def read_active(path: Path) -> dict[str, str]:
    """sha256 hex -> tenant for every key not revoked."""
    return read_keys(path)[0]


class ActiveKeys:
    """The gateway's in-memory view of the active keys: a dict of hashes, reloaded when
    the store file changes (checked at most every :data:`REFRESH_S` seconds)."""

    def __init__(self, path: Path, *, refresh_s: float = REFRESH_S) -> None:
        self.path = path
        self._refresh_s = refresh_s
        self._stamp: tuple[int, int] | None = None
        self._checked = -1e18
        self.by_hash: dict[str, str] = {}
        # Once a key has been created, auth stays on: revoking the last key leaves a
        # gateway that refuses everything, never an open one.
        self.exist = False
        self.refresh(force=True)

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self._refresh_s:
            return
        self._checked = now
        stamp = self._file_stamp()
        if not force and stamp == self._stamp:
            return
        try:
            self.by_hash, count = read_keys(self.path)
        except ConfigError:
            if force:
                raise
            return  # keep the last good set; the next check retries
        self.exist = count > 0
        self._stamp = stamp

    def tenant(self, key: bytes) -> str | None:
        return self.by_hash.get(hashlib.sha256(key).hexdigest())
