"""The rows of the access log, and entries written by a statement with its own work.

Apart from ``app.store.access_log`` so that any repository can write entries with its
statement (``UnitOfWork.access_for_statement``) without importing that repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from functools import cache
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    DateTime,
    FromClause,
    Insert,
    String,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.domain.access_log import AccessEntry
from app.domain.values import storable
from app.store import tables as t

# The columns an entry fills (the id is the database's): every one ``access_row`` gives a
# value (tests/unit/test_access_rows.py holds the two together).
ENTRY_COLUMNS = [column for column in t.access_log.c if column.name != "id"]


def access_row(e: AccessEntry, principal: str, unit: str | None) -> dict[str, Any]:
    """The ``access_log`` row of an entry of a caller of ``principal`` acting for ``unit``."""
    return {
        "at": e.at,
        "client_id": e.client_id,
        "organization_id": e.organization_id,
        "principal_id": principal,
        "unit_id": unit,
        "user_id": e.user_id,
        "action": e.action,
        "resource_type": e.resource_type,
        # What the caller named may be junk that no column can hold (an overlong id, a NUL):
        # the entry is kept, with its digest.
        "resource_id": storable(e.resource_id),
        "person_id": storable(e.person_id, 36),
        "outcome": e.outcome,
        "purpose": e.purpose,
        "request_id": e.request_id,
    }


# Each entry column as the array the insert binds: unbounded text, so that a value too long for
# its column fails the insert (a cast to ``VARCHAR(n)[]`` would cut it silently).
_ARRAYS = [
    ARRAY(DateTime(timezone=True) if column.name == "at" else String()) for column in ENTRY_COLUMNS
]


def rows_params(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """The arrays, one per entry column, that ``appended`` and ``written_once`` insert: each
    column's values in the order of ``rows`` (``access_row``), the instants aware and in UTC."""
    params = {
        f"logged_{column.name}": [row[column.name] for row in rows] for column in ENTRY_COLUMNS
    }
    at = params["logged_at"]
    for i, instant in enumerate(at):
        if instant.tzinfo is None:
            raise ValueError("naive datetime reached the database layer")
        at[i] = instant.astimezone(UTC)
    return params


def written_params(entries: Sequence[AccessEntry]) -> dict[str, list[Any]]:
    """``rows_params`` of entries that name their principal
    (``UnitOfWork.access_for_statement``)."""
    rows = [access_row(e, e.principal_id, e.unit_id) for e in entries if e.principal_id]
    assert rows and len(rows) == len(entries), "entries written with a statement name a principal"
    return rows_params(rows)


@cache
def appended() -> Insert:
    """The one insert of access-log entries on PostgreSQL: ``INSERT INTO access_log … SELECT …
    FROM unnest(<one array per column>) WITH ORDINALITY ORDER BY n``, its arrays bound at
    execution (``rows_params``), the ids following the order of the rows.

    The rows travel as one array per column: the statement is the same text whatever the number
    of entries, so it is compiled once and prepared once per connection (a multi-row VALUES of a
    50-item page was 650 parameters compiled anew on every request, issue 20). The unit of
    work's commit (``AccessLogRepository.append``), the grouped writer
    (``app.services.access_writer``) and a statement that writes its entries with its own work
    (``written_once``) all insert by it.
    """
    source = (
        func.unnest(
            *(
                bindparam(f"logged_{column.name}", type_=array)
                for column, array in zip(ENTRY_COLUMNS, _ARRAYS, strict=True)
            )
        )
        .table_valued(*(column.name for column in ENTRY_COLUMNS), with_ordinality="n")
        .render_derived("entries")
    )
    return insert(t.access_log).from_select(
        [column.name for column in ENTRY_COLUMNS],
        select(*(source.c[column.name] for column in ENTRY_COLUMNS)).order_by(source.c.n),
    )


@cache
def written_once() -> CTE:
    """``appended`` as a data-modifying CTE (PostgreSQL), for a statement built once and kept
    that writes its entries with its own work, its arrays bound at execution
    (``written_params``): building the CTE anew was a twentieth of a list page's time (issue 20).
    """
    return appended().returning(t.access_log.c.id).cte("logged")


# What differs between the entries one request queues for the records of a list page (when
# each was made, the record, its person): ``written_alike_once`` binds these as arrays and the
# rest once.
_PER_ENTRY = ("at", "resource_id", "person_id")
_PER_ENTRY_ARRAYS = [
    ARRAY(DateTime(timezone=True) if name == "at" else t.access_log.c[name].type)
    for name in _PER_ENTRY
]


def alike_params(entries: Sequence[AccessEntry]) -> dict[str, Any] | None:
    """The parameters of ``written_alike_once`` for entries that differ in ``_PER_ENTRY`` only
    (a list page's, which name their principal), or None when they differ in more.

    asyncpg checks every element of an array it sends, twice for a string: the thirteen arrays
    of a 50-item page's entries (``written_params``) were most of what sending its content
    statement cost (issue 20, profiled); alike, they are three arrays and ten values."""
    rows = [access_row(e, e.principal_id, e.unit_id) for e in entries if e.principal_id]
    assert rows and len(rows) == len(entries), "entries written with a statement name a principal"
    first = rows[0]
    shared = [(name, value) for name, value in first.items() if name not in _PER_ENTRY]
    for row in rows[1:]:
        for name, value in shared:
            if row[name] != value:
                return None
    params: dict[str, Any] = {f"logged_{name}": value for name, value in shared}
    params["logged_at"] = [row["at"].astimezone(UTC) for row in rows]
    params["logged_resource_id"] = [row["resource_id"] for row in rows]
    params["logged_person_id"] = [row["person_id"] for row in rows]
    return params


@cache
def written_alike_once() -> CTE:
    """``written_once`` for entries alike but in ``_PER_ENTRY`` (``alike_params``): those
    columns unnested from arrays, the others one value each, bound at execution."""
    source = (
        func.unnest(
            *(
                bindparam(f"logged_{name}", type_=array)
                for name, array in zip(_PER_ENTRY, _PER_ENTRY_ARRAYS, strict=True)
            )
        )
        .table_valued(*_PER_ENTRY)
        .render_derived("entries")
    )
    return (
        insert(t.access_log)
        .from_select(
            [column.name for column in ENTRY_COLUMNS],
            select(
                *(
                    source.c[column.name]
                    if column.name in _PER_ENTRY
                    else bindparam(f"logged_{column.name}", type_=column.type)
                    for column in ENTRY_COLUMNS
                )
            ).select_from(source),
        )
        .returning(t.access_log.c.id)
        .cte("logged")
    )


def logged_for_each(
    shared: AccessEntry,
    rows: FromClause,
    resource_id: ColumnElement[Any],
    person_id: ColumnElement[Any],
    order: Sequence[ColumnElement[Any]],
) -> Insert:
    """``INSERT INTO access_log … SELECT … FROM rows``: ``shared`` (an entry that names its
    principal) for each of ``rows``, with the row's ``resource_id`` and ``person_id``, in
    ``order``. A statement that reads thousands of rows logs them itself (a data-modifying CTE
    on PostgreSQL, the same rows again in the same transaction on SQLite), so no entry is made
    in Python per row (issue 20). The ids are read from the database as stored, which is what
    ``access_row`` keeps of them (``storable``)."""
    assert shared.principal_id is not None, "an entry written per row names its principal"
    values = access_row(shared, shared.principal_id, shared.unit_id)
    per_row = {"resource_id": resource_id, "person_id": person_id}
    return insert(t.access_log).from_select(
        [column.name for column in ENTRY_COLUMNS],
        select(
            *(
                per_row[column.name]
                if column.name in per_row
                else bindparam(None, values[column.name], type_=column.type)
                for column in ENTRY_COLUMNS
            )
        )
        .select_from(rows)
        .order_by(*order),
    )
