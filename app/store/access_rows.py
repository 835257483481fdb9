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
    BindParameter,
    ColumnElement,
    DateTime,
    FromClause,
    Insert,
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


# Each entry column as the array ``written`` binds.
_ARRAYS = [
    ARRAY(DateTime(timezone=True) if column.name == "at" else column.type)
    for column in ENTRY_COLUMNS
]


def written_params(entries: Sequence[AccessEntry]) -> dict[str, list[Any]]:
    """The arrays, one per entry column, that ``written`` and ``written_once`` insert: the entries
    name their principal (``UnitOfWork.access_for_statement``)."""
    rows = [access_row(e, e.principal_id, e.unit_id) for e in entries if e.principal_id]
    assert rows and len(rows) == len(entries), "entries written with a statement name a principal"
    for row in rows:
        row["at"] = row["at"].astimezone(UTC)
    return {f"logged_{column.name}": [row[column.name] for row in rows] for column in ENTRY_COLUMNS}


def _inserting(arrays: Sequence[BindParameter[Any]]) -> CTE:
    source = (
        func.unnest(*arrays)
        .table_valued(*(column.name for column in ENTRY_COLUMNS))
        .render_derived("entries")
    )
    return (
        insert(t.access_log)
        .from_select([column.name for column in ENTRY_COLUMNS], select(*source.c))
        .returning(t.access_log.c.id)
        .cte("logged")
    )


def written(entries: Sequence[AccessEntry]) -> CTE:
    """A data-modifying CTE (PostgreSQL) that appends entries which name their principal
    (``UnitOfWork.access_for_statement``), for a statement that writes them with its own work.

    The rows travel as one array per column, unnested: the statement is the same text whatever
    the number of entries, so SQLAlchemy compiles it once (a multi-row VALUES of a 50-item page
    was 650 parameters compiled anew on every request, most of a list request's time, issue 20).
    """
    params = written_params(entries)
    return _inserting(
        [
            bindparam(None, params[f"logged_{column.name}"], type_=array)
            for column, array in zip(ENTRY_COLUMNS, _ARRAYS, strict=True)
        ]
    )


@cache
def written_once() -> CTE:
    """``written`` with its arrays bound at execution (``written_params``), for a statement built
    once and kept: building the CTE anew was a twentieth of a list page's time (issue 20)."""
    return _inserting(
        [
            bindparam(f"logged_{column.name}", type_=array)
            for column, array in zip(ENTRY_COLUMNS, _ARRAYS, strict=True)
        ]
    )


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
