"""Entries alike but in when, what record and whose (a list page's) are written by three arrays
and ten values (``written_alike_once``): the rows are those the thirteen arrays of
``written_once`` write, and entries that differ in more are not taken for alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.access_log import AccessEntry
from app.store import tables as t
from app.store.access_rows import (
    ENTRY_COLUMNS,
    alike_params,
    written_alike_once,
    written_once,
    written_params,
)
from tests.factories import an_access_entry

T0 = datetime(2026, 3, 1, 8, 0, 0, 123_456, tzinfo=UTC)


def _entries(request_id: str) -> list[AccessEntry]:
    shared = an_access_entry(
        at=T0,
        client_id="client-kommun-0880",
        organization_id="kommun-0880",
        action="search",
        resource_type="Encounter",
        resource_id=None,
        purpose="care",
        request_id=request_id,
        principal_id="kommun-0880",
    )
    return [
        replace(
            shared,
            at=T0 + timedelta(microseconds=i),
            resource_id=f"episode-{i}",
            # One without a person, and one whose id no column holds (kept as its digest).
            person_id=None if i == 1 else ("x" * 80 if i == 2 else f"person-{i}"),
        )
        for i in range(5)
    ]


async def _written(engine: AsyncEngine, statement: Any, params: dict[str, Any]) -> list[Any]:
    async with engine.begin() as conn:
        ids = [row.id for row in await conn.execute(select(statement.c.id), params)]
        rows = await conn.execute(
            select(*ENTRY_COLUMNS).where(t.access_log.c.id.in_(ids)).order_by(t.access_log.c.id)
        )
        return [tuple(row) for row in rows]


async def test_alike_entries_are_written_as_each_would_be(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("entries are written with a statement's own work on PostgreSQL only")
    each = _entries("written-each")
    alike = _entries("written-alike")
    params = alike_params(alike)
    assert params is not None
    by_each = await _written(engine, written_once(), written_params(each))
    by_alike = await _written(engine, written_alike_once(), params)
    assert len(by_alike) == len(alike)
    request_at = [c.name for c in ENTRY_COLUMNS].index("request_id")
    assert [row[:request_at] + row[request_at + 1 :] for row in by_alike] == [
        row[:request_at] + row[request_at + 1 :] for row in by_each
    ]
    assert {row[request_at] for row in by_alike} == {"written-alike"}


@pytest.mark.parametrize(
    "change",
    [
        {"action": "read"},
        {"outcome": "denied"},
        {"resource_type": "Patient"},
        {"user_id": "user-1"},
        {"unit_id": "kommun-0880-hemtjanst"},
        {"client_id": "another-client"},
        {"request_id": "another-request"},
    ],
)
def test_entries_that_differ_in_more_are_not_alike(change: dict[str, Any]) -> None:
    entries = _entries("r")
    entries[3] = replace(entries[3], **change)
    assert alike_params(entries) is None
    assert alike_params(entries[:3]) is not None
