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


# A filter's value: one value, any of several (a collection), or None (no filter).
AnyOf = str | bool | Enum | Collection[str] | Collection[Enum] | None


def _wanted(value: AnyOf) -> list[object]:
    """The values a filter wants (none: it filters nothing). ``False`` is a value."""
    if value is None:
        return []
    values: list[object] = [value] if isinstance(value, str | Enum | bool) else list(value)
    return [v.value if isinstance(v, Enum) else v for v in values if v is not None and v != ""]


def any_of(column: ColumnElement[Any], value: AnyOf) -> ColumnElement[bool] | None:
    """``column`` equal to the value, or to any of the values of a collection (one ``IN``, so a
    search for several values is one query, paged and ordered as one); None when the value is
    None or empty (nothing to filter)."""
    wanted = _wanted(value)
    if not wanted:
        return None
    return column == wanted[0] if len(wanted) == 1 else column.in_(wanted)


def among(found: str | Enum | None, value: AnyOf) -> bool:
    """Whether a value already read passes the filter ``value`` (as ``any_of`` would)."""
    wanted = _wanted(value)
    if not wanted:
        return True
    return (found.value if isinstance(found, Enum) else found) in wanted


def filtered(query: Select[Any], table: Table, equal: Mapping[str, AnyOf]) -> Select[Any]:
    """The query with each column named in ``equal`` equal to its value, or any of its values
    (a None or empty value filters nothing; ``False`` does)."""
    for column, value in equal.items():
        test = any_of(table.c[column], value)
        if test is not None:
            query = query.where(test)
    return query


def page_query(
    table: Table,
    *where: ColumnElement[bool],
    limit: int,
    after: str | None,
    equal: Mapping[str, AnyOf] | None = None,
) -> Select[Any]:
    """The rows of ``table`` (keyed by ``id``) that meet ``where``, in id order: the ``limit + 1``
    after the cursor ``after`` (one more than a page, so ``_page`` can tell whether another
    follows), with each column named in ``equal`` equal to its value or any of its values
    (``filtered``)."""
    key = table.c.id
    query = select(table).where(*where).order_by(key).limit(limit + 1)
    if after:
        query = query.where(key > after)
    return filtered(query, table, equal or {})


def visible_page_query(
    table: Table,
    record: RecordType,
    reach: Reach,
    *,
    limit: int,
    after: str | None,
    equal: Mapping[str, AnyOf] | None = None,
    roles: Collection[Role] = (),
) -> Select[Any]:
    """``page_query`` of the records of ``table`` the reach is a party to (in one of ``roles``,
    if any are named)."""
    visible = visible_records(record, reach)
    if roles:
        visible = visible.where(t.record_parties.c.role.in_(sorted(r.value for r in roles)))
    return page_query(table, table.c.id.in_(visible), limit=limit, after=after, equal=equal)
