"""Dates and instants as the strings the JSON documents of the store keep them in, and back.

None stays None (an empty string reads back as None): an optional field of a document is written
and read without a test at every use.
"""

from __future__ import annotations

from datetime import date, datetime


def date_text(value: date | None) -> str | None:
    """The date as ISO 8601 (``2026-11-30``), or None."""
    return value.isoformat() if value is not None else None


def instant_text(value: datetime | None) -> str | None:
    """The instant as ISO 8601 with its offset, or None."""
    return value.isoformat() if value is not None else None


def date_of(value: str | None) -> date | None:
    """The date an ISO 8601 string names, or None for None or an empty string."""
    return date.fromisoformat(value) if value else None


def instant_of(value: str | None) -> datetime | None:
    """The instant an ISO 8601 string names, or None for None or an empty string."""
    return datetime.fromisoformat(value) if value else None
