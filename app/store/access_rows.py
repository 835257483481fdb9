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
