"""Storage of web-console sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.sessions import ConsoleSession, Identity, PendingLogin, Role
from app.store import tables as t

s = t.console_sessions


class ConsoleSessionRepository:
    """Console sessions by the hash of their token."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, session: ConsoleSession) -> None:
        """Store a new session."""
        await self._conn.execute(insert(s).values(**_row(session)))

    async def get(self, session_id: str) -> ConsoleSession | None:
        """The session, or None."""
        row = (await self._conn.execute(select(s).where(s.c.id == session_id))).first()
        return _session(row) if row is not None else None

    async def touch(self, session_id: str, at: datetime) -> None:
        """Note that the session was used at ``at``."""
        await self._conn.execute(update(s).where(s.c.id == session_id).values(last_seen_at=at))

    async def set_pending(self, session_id: str, pending: PendingLogin | None) -> None:
        """Keep (or clear) the sign-in under way."""
        await self._conn.execute(
            update(s).where(s.c.id == session_id).values(pending=_pending_document(pending))
        )

    async def remove(self, session_id: str) -> None:
        """End the session."""
        await self._conn.execute(delete(s).where(s.c.id == session_id))

    async def remove_idle(self, idle_since: datetime) -> None:
        """End every session not used since ``idle_since``."""
        await self._conn.execute(delete(s).where(s.c.last_seen_at < idle_since))


def _pending_document(pending: PendingLogin | None) -> dict[str, str] | None:
    if pending is None:
        return None
    return {
        "state": pending.state,
        "nonce": pending.nonce,
        "code_verifier": pending.code_verifier,
    }


def _row(session: ConsoleSession) -> dict[str, Any]:
    identity = session.identity
    return {
        "id": session.id,
        "csrf_token": session.csrf_token,
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
        "user_id": identity.user_id if identity else None,
        "user_name": identity.name if identity else None,
        "organization_id": identity.organization_id if identity else None,
        "role": identity.role.value if identity else None,
        "pending": _pending_document(session.pending),
    }


def _session(row: Any) -> ConsoleSession:
    identity = None
    if row.user_id is not None:
        identity = Identity(
            user_id=row.user_id,
            name=row.user_name or row.user_id,
            organization_id=row.organization_id,
            role=Role(row.role),
        )
    pending = PendingLogin(**row.pending) if row.pending else None
    return ConsoleSession(
        id=row.id,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        identity=identity,
        pending=pending,
    )
