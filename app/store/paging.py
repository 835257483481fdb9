"""Keyset pagination shared by the repositories: a page of items and the cursor after it, and the
query of a page of the records a reach is a party to."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, Table, select

from app.domain.parties import Reach, RecordType, Role
from app.store import tables as t
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


def page_query(
    table: Table,
    *where: ColumnElement[bool],
    limit: int,
    after: str | None,
    equal: Mapping[str, object | None] | None = None,
) -> Select[Any]:
    """The rows of ``table`` (keyed by ``id``) that meet ``where``, in id order: the ``limit + 1``
    after the cursor ``after`` (one more than a page, so ``_page`` can tell whether another
    follows), with each column named in ``equal`` equal to its value (an enum's value; a None or
    empty value filters nothing, ``False`` does)."""
    key = table.c.id
    query = select(table).where(*where).order_by(key).limit(limit + 1)
    if after:
        query = query.where(key > after)
    for column, value in (equal or {}).items():
        if value is not None and value != "":
            query = query.where(
                table.c[column] == (value.value if isinstance(value, Enum) else value)
            )
    return query


def visible_page_query(
    table: Table,
    record: RecordType,
    reach: Reach,
    *,
    limit: int,
    after: str | None,
    equal: Mapping[str, object | None] | None = None,
    roles: Collection[Role] = (),
) -> Select[Any]:
    """``page_query`` of the records of ``table`` the reach is a party to (in one of ``roles``,
    if any are named)."""
    visible = visible_records(record, reach)
    if roles:
        visible = visible.where(t.record_parties.c.role.in_(sorted(r.value for r in roles)))
    return page_query(table, table.c.id.in_(visible), limit=limit, after=after, equal=equal)
