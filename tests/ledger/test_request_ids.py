"""Request ids are UUIDv7 hex: unique, and ordered by time so that the ledger's unique
index on ``request_id`` grows at its end."""

from __future__ import annotations

import time
import uuid

from thrifty.types import new_request_id


def test_a_request_id_is_a_uuid7_in_32_hex_digits() -> None:
    made = new_request_id()
    assert len(made) == 32 and made == made.lower()
    parsed = uuid.UUID(hex=made)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    millis = int(made[:12], 16)
    assert abs(millis - time.time_ns() // 1_000_000) < 5_000


def test_request_ids_are_unique_and_ordered_by_time() -> None:
    earlier = [new_request_id() for _ in range(2000)]
    time.sleep(0.002)
    later = [new_request_id() for _ in range(2000)]
    assert len(set(earlier + later)) == 4000
    assert max(earlier) < min(later)  # a later millisecond sorts after
    # 74 random bits: ids made in the same millisecond differ beyond the time prefix.
    assert len({made[12:] for made in earlier}) == len(earlier)
