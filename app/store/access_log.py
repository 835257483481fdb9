"""The append-only access log.

Repositories run inside the unit of work: SQL in, domain objects out; they never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    insert,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.access_log import AccessEntry
from app.domain.parties import Reach
from app.store import tables as t
from app.store.access_rows import access_row, appended, rows_params
from app.store.paging import Page, trim_to_page
from app.store.parties import reach_clause


class AccessLogRepository:
    """The append-only access log. There is no update or delete here, by design."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, entries: Sequence[AccessEntry]) -> None:
        """Append entries; an entry that does not name its principal (a push, written by the
        dispatcher) gets its organization's, and a unit's entry the unit."""
        if not entries:
            return
        rows = await self.rows(entries)
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(appended(), rows_params(rows))
        else:
            await self._conn.execute(insert(t.access_log), rows)

    async def rows(self, entries: Sequence[AccessEntry]) -> list[dict[str, Any]]:
        """The ``access_log`` rows of entries (``access_row``): an entry that does not name its
        principal gets its organization's (read here), and a unit's entry the unit."""
        unnamed = sorted({e.organization_id for e in entries if e.principal_id is None})
        orgs: dict[str, tuple[str, str | None]] = {}
        if unnamed:
            o = t.organizations.c
            for row in await self._conn.execute(
                select(o.id, o.kind, o.parent_id).where(o.id.in_(unnamed))
            ):
                unit = row.kind == "unit" and row.parent_id is not None
                orgs[row.id] = (row.parent_id, row.id) if unit else (row.id, None)
        rows = []
        for e in entries:
            principal, unit = (
                (e.principal_id, e.unit_id)
                if e.principal_id is not None
                else orgs.get(e.organization_id, (e.organization_id, None))
            )
            rows.append(access_row(e, principal, unit))
        return rows

    async def get(self, entry_id: int) -> AccessEntry | None:
        """One entry, or None."""
        found = await self.page(limit=1, after=entry_id - 1, until=entry_id)
        return found.items[0] if found.items else None

    async def page(
        self,
        *,
        limit: int,
        after: int | None = None,
        person_id: str | None = None,
        organization_id: str | None = None,
        made_by: Reach | None = None,
        since: datetime | None = None,
        until: int | None = None,
        newest_first: bool = False,
        before: datetime | None = None,
        ids: Collection[int] = (),
    ) -> Page[AccessEntry]:
        """Entries in the order they were written, filtered by person, by organization, and by
        whose accesses they record (``made_by``: entries of a unit's reach are those made for the
        unit; an entry made for no unit counts as its principal's own).

        ``newest_first`` turns the order: then ``until`` is the cursor (the page's entries have
        smaller ids than it), the keyset of a history that starts from the latest entry.
        """
        order = t.access_log.c.id.desc() if newest_first else t.access_log.c.id
        query = select(t.access_log).order_by(order).limit(limit + 1)
        if made_by is not None:
            log = t.access_log.c
            query = query.where(
                reach_clause(log.unit_id, log.principal_id, made_by)
                if made_by.principal_id is not None
                else or_(
                    log.unit_id.in_(sorted(made_by.organizations)),
                    and_(
                        log.unit_id.is_(None),
                        log.principal_id.in_(sorted(made_by.organizations)),
                    ),
                )
            )
        if after is not None:
            query = query.where(t.access_log.c.id > after)
        if until is not None:
            query = query.where(
                t.access_log.c.id < until if newest_first else t.access_log.c.id <= until
            )
        if person_id:
            query = query.where(t.access_log.c.person_id == person_id)
        if organization_id:
            query = query.where(t.access_log.c.organization_id == organization_id)
        if since:
            query = query.where(t.access_log.c.at >= since)
        if before:
            query = query.where(t.access_log.c.at < before)
        if ids:
            query = query.where(t.access_log.c.id.in_(list(ids)))
        rows = (await self._conn.execute(query)).all()
        items = [
            AccessEntry(
                r.at,
                r.client_id,
                r.organization_id,
                r.user_id,
                r.action,
                r.resource_type,
                r.resource_id,
                r.person_id,
                r.outcome,
                r.purpose,
                r.request_id,
                r.id,
                r.principal_id,
                r.unit_id,
            )
            for r in rows
        ]
        return trim_to_page(items, limit, lambda e: str(e.id))
