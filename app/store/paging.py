"""Keyset pagination shared by the repositories: a page of items and the cursor after it, and the
query of a page of the records a reach is a party to."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    Table,
    bindparam,
    select,
    true,
)

from app.domain.parties import Reach, RecordType, Role
from app.store import tables as t
from app.store.parties import (
    ReachShape,
    person_within_query,
    reach_clause,
    reach_params,
    visible_records,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


def trim_to_page(items: list[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
    """The page of ``items`` read with one row more than a page (``limit + 1``, as
    ``page_query`` asks): the first ``limit`` of them, and when the extra row was there (another
    page follows) the cursor of the last item kept, ``cursor_of(item)``; None on the last page."""
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
    after the cursor ``after`` (one more than a page, so ``trim_to_page`` can tell whether another
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


# The bound parameters of a page statement built once (``visible_page``, the episode list): the
# rows wanted (one more than a page) and the cursor.
PAGE_LIMIT: BindParameter[int] = bindparam("page_limit", type_=Integer)


def page_after(key: ColumnElement[Any]) -> BindParameter[Any]:
    """The cursor of a page statement built once, typed as its key ``key``."""
    return bindparam("page_after", type_=key.type)


def any_of_param(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``column`` equal to any of the values bound as ``any_<name>`` at execution (an expanding
    ``IN``: one value is an equality to PostgreSQL, and the statement stays one text)."""
    return column.in_(bindparam(f"any_{name}", type_=column.type, expanding=True))


def wanted_filters(equal: Mapping[str, AnyOf]) -> dict[str, list[object]]:
    """The filters of ``equal`` that filter something, each with the values it wants (as
    ``any_of``): their names are the shape of a statement built once, their values its
    ``any_<name>`` parameters."""
    found = {name: _wanted(value) for name, value in equal.items()}
    return {name: values for name, values in found.items() if values}


def page_params(
    limit: int, after: str | None, wanted: Mapping[str, list[object]]
) -> dict[str, Any]:
    """The parameters of a page statement built once: ``limit + 1`` rows after ``after`` (as
    ``page_query``), with the values of ``wanted`` (``wanted_filters``)."""
    params: dict[str, Any] = {"page_limit": limit + 1, "page_after": after}
    params.update((f"any_{name}", values) for name, values in wanted.items())
    return params


@cache
def _visible_page(
    table: Table,
    record: RecordType,
    shape: ReachShape,
    roles: tuple[str, ...],
    filters: tuple[tuple[str, bool], ...],
    after: bool,
) -> Select[Any]:
    """``visible_page_query``'s statement for one shape of reach and filters, with every value a
    bound parameter (``visible_page``). A filter that wants one value (the usual search: one
    person, one status) is an equality to ``one_<name>``: an expanding ``IN`` is rendered
    anew at every execution, which was a share of a search page's Python (issue 20)."""
    p = t.record_parties
    visible = select(p.c.record_id).where(
        p.c.record_type == record.value,
        reach_clause(p.c.organization_id, p.c.principal_id, shape),
    )
    if roles:
        visible = visible.where(p.c.role.in_(roles))
    key = table.c.id
    query = select(table).where(key.in_(visible)).order_by(key).limit(PAGE_LIMIT)
    if after:
        query = query.where(key > page_after(key))
    for name, one in filters:
        column = table.c[name]
        if one:
            query = query.where(column == bindparam(f"one_{name}", type_=column.type))
        else:
            query = query.where(any_of_param(column, name))
    return query


@cache
def _visible_page_within(
    table: Table,
    record: RecordType,
    shape: ReachShape,
    roles: tuple[str, ...],
    filters: tuple[tuple[str, bool], ...],
    after: bool,
) -> Select[Any]:
    """``_visible_page``'s statement as the page outer-joined to one row that tells whether the
    reach is a party to any record about a person (``person_within_query``, its column
    ``person_within``): a page with no rows still answers it, a row whose page columns are all
    null."""
    asked = select(person_within_query(shape).exists().label("person_within")).subquery("asked")
    page = _visible_page(table, record, shape, roles, filters, after).subquery("page")
    return (
        select(asked.c.person_within, *page.c)
        .select_from(asked.outerjoin(page, true()))
        .order_by(page.c.id)
    )


def visible_page(
    table: Table,
    record: RecordType,
    reach: Reach,
    *,
    limit: int,
    after: str | None,
    equal: Mapping[str, AnyOf] | None = None,
    roles: Collection[Role] = (),
    within_person: str | None = None,
) -> tuple[Select[Any], dict[str, Any]]:
    """``visible_page_query`` as a statement built once per shape (of the reach, of which
    filters filter something, of whether a cursor is given) and its parameters: a search page
    built its statement and cache key anew on every request, which cost more than running it
    (issue 20, profiled).

    With ``within_person``, the statement also answers whether the reach is a party to any
    record about that person (``_visible_page_within``): a search by a person asks it even
    when the page is empty, and answered here it costs no statement of its own."""
    wanted = wanted_filters(equal or {})
    several = {name: values for name, values in wanted.items() if len(values) > 1}
    shape = (
        table,
        record,
        ReachShape.of(reach),
        tuple(sorted(r.value for r in roles)),
        tuple((name, name not in several) for name in wanted),
        bool(after),
    )
    params = {**page_params(limit, after, several), **reach_params(reach)}
    params.update((f"one_{name}", values[0]) for name, values in wanted.items() if len(values) == 1)
    if within_person is None:
        return _visible_page(*shape), params
    return _visible_page_within(*shape), {**params, "within_person": within_person}
