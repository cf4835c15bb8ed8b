"""Shared constants for the pricing defect regression tests."""

from __future__ import annotations

from datetime import UTC, datetime

# After every service-tier variant in the snapshot has started (2026-10-12) and after the
# batch variants (2026-10-14): the rates of these tests do not depend on the day they run.
LATE_2026 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
