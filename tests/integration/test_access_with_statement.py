"""Access-log entries a statement writes with its own work (issue 20), on SQLite and PostgreSQL.

On PostgreSQL a request's queued entries can be written by a data-modifying CTE of its next
statement (``UnitOfWork.access_for_statement``). They must then be in the log exactly once when
the request commits, and still be there, marked failed, when it rolls back; a part undone alone
(a savepoint) hands none out. SQLite writes them at the commit, as before.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.access_log import AccessEntry
from app.store.unit_of_work import UnitOfWork, write_failed_access
from tests.factories import an_access_entry

# Commits and rollbacks of its own, or units of work side by side: not inside the test's pinned
# transaction (tests/conftest.py).
pytestmark = pytest.mark.committing


def entry(
    request_id: str, resource_id: str, *, principal: str | None = "kommun-0880"
) -> AccessEntry:
    return an_access_entry(
        client_id="test-statement",
        organization_id="kommun-0880",
        action="search",
        resource_type="Encounter",
        resource_id=resource_id,
        purpose="care",
        request_id=request_id,
        principal_id=principal,
    )


async def logged(engine: AsyncEngine, request_id: str) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT resource_id, outcome FROM access_log WHERE request_id = :r ORDER BY id"),
            {"r": request_id},
        )
        return [(row.resource_id, row.outcome) for row in rows]


async def test_entries_written_with_a_statement_are_logged_once_on_commit(
    engine: AsyncEngine,
) -> None:
    request_id = uuid.uuid4().hex
    async with UnitOfWork(engine) as uow:
        uow.log_access(entry(request_id, "a"))
        uow.log_access(entry(request_id, "b"))
        taken = uow.access_for_statement()
        assert [e.resource_id for e in taken] == (["a", "b"] if uow.dialect == "postgresql" else [])
        # The statement that writes them: the content of an episode that has none.
        assert await uow.episode_content.of_episodes([str(uuid.uuid4())], taken) == ([], [])
        uow.log_access(entry(request_id, "c"))
        await uow.commit()
    assert await logged(engine, request_id) == [
        ("a", "success"),
        ("b", "success"),
        ("c", "success"),
    ]


async def test_entries_written_with_a_statement_are_logged_failed_on_rollback(
    engine: AsyncEngine,
) -> None:
    request_id = uuid.uuid4().hex
    uow = UnitOfWork(engine)
    async with uow:
        uow.log_access(entry(request_id, "a"))
        await uow.episode_content.of_episodes([str(uuid.uuid4())], uow.access_for_statement())
        uow.log_access(entry(request_id, "b"))
    # Left without a commit: the edge writes what the request queued, as failed.
    assert [e.resource_id for e in uow.pending_access] == ["a", "b"]
    await write_failed_access(engine, uow.pending_access)
    assert await logged(engine, request_id) == [("a", "failed"), ("b", "failed")]


async def test_no_entry_is_handed_out_inside_a_savepoint_or_without_its_principal(
    engine: AsyncEngine,
) -> None:
    request_id = uuid.uuid4().hex
    async with UnitOfWork(engine) as uow:
        uow.log_access(entry(request_id, "a"))
        async with uow.savepoint():
            assert uow.access_for_statement() == []
        # A push's entry names no principal; it is resolved at the commit.
        uow.log_access(entry(request_id, "b", principal=None))
        taken = uow.access_for_statement()
        assert [e.resource_id for e in taken] == (["a"] if uow.dialect == "postgresql" else [])
        assert [e.resource_id for e in uow.pending_access] == (
            ["b"] if uow.dialect == "postgresql" else ["a", "b"]
        )
        await uow.episode_content.of_episodes([str(uuid.uuid4())], taken)
        await uow.commit()
    assert await logged(engine, request_id) == [("a", "success"), ("b", "success")]
