"""The service's clock: aware UTC instants, so no naive datetime enters a rule or a row."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)
