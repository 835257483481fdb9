"""Keyset pagination shared by the repositories: a page of items and the cursor after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


def _page(items: list[T], limit: int, cursor_of: Any) -> Page[T]:
    if len(items) > limit:
        items = items[:limit]
        return Page(items, cursor_of(items[-1]))
    return Page(items, None)
