"""Keyset pagination shared by the repositories: a page of items and the cursor after it, and the
query of a page of the records a reach is a party to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, Table, select

from app.domain.parties import Reach, RecordType
from app.store.parties import visible_records

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


def visible_page_query(
    table: Table,
    record: RecordType,
    reach: Reach,
    *,
    limit: int,
    after: str | None,
    equal: Mapping[str, object | None] | None = None,
) -> Select[Any]:
    """The rows of ``table`` (keyed by ``id``) of the records the reach is a party to, in id order:
    the ``limit + 1`` after the cursor ``after`` (one more than a page, so ``_page`` can tell
    whether another follows), with each column named in ``equal`` equal to its value (a None or
    empty value filters nothing)."""
    query = (
        select(table)
        .where(table.c.id.in_(visible_records(record, reach)))
        .order_by(table.c.id)
        .limit(limit + 1)
    )
    if after:
        query = query.where(table.c.id > after)
    for column, value in (equal or {}).items():
        if value:
            query = query.where(table.c[column] == value)
    return query
