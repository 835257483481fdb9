"""Storage of notice-board bulletins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.notice_board import Bulletin, BulletinCategory
from app.store import tables as t
from app.store.paging import Page, page_query, trim_to_page


class BulletinRepository:
    """Bulletins, by board."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, bulletin: Bulletin) -> None:
        """Store a new bulletin."""
        await self._conn.execute(insert(t.bulletins).values(**_row(bulletin)))

    async def save(self, bulletin: Bulletin) -> None:
        """Store a withdrawal."""
        await self._conn.execute(
            update(t.bulletins)
            .where(t.bulletins.c.id == bulletin.id)
            .values(valid_until=bulletin.valid_until, withdrawn_at=bulletin.withdrawn_at)
        )

    async def get(self, bulletin_id: str) -> Bulletin | None:
        """The bulletin, or None."""
        row = (
            await self._conn.execute(select(t.bulletins).where(t.bulletins.c.id == bulletin_id))
        ).first()
        return _bulletin(row) if row else None

    async def page(
        self, board_id: str, *, limit: int, after: str | None, shown_at: datetime | None
    ) -> Page[Bulletin]:
        """The board's bulletins by id; with ``shown_at``, only those shown then."""
        on_board = t.bulletins.c.board_id == board_id
        query = page_query(t.bulletins, on_board, limit=limit, after=after)
        if shown_at is not None:
            query = query.where(
                t.bulletins.c.valid_from <= shown_at,
                or_(t.bulletins.c.valid_until.is_(None), t.bulletins.c.valid_until > shown_at),
            )
        rows = (await self._conn.execute(query)).all()
        return trim_to_page([_bulletin(r) for r in rows], limit, lambda b: b.id)


def _row(bulletin: Bulletin) -> dict[str, Any]:
    return {
        "id": bulletin.id,
        "board_id": bulletin.board_id,
        "author_id": bulletin.author_id,
        "author_principal_id": bulletin.author_principal_id,
        "category": bulletin.category.value,
        "title": bulletin.title,
        "text": bulletin.text,
        "valid_from": bulletin.valid_from,
        "valid_until": bulletin.valid_until,
        "created_at": bulletin.created_at,
        "withdrawn_at": bulletin.withdrawn_at,
    }


def _bulletin(row: Any) -> Bulletin:
    return Bulletin(
        id=row.id,
        board_id=row.board_id,
        author_id=row.author_id,
        author_principal_id=row.author_principal_id,
        category=BulletinCategory(row.category),
        title=row.title,
        text=row.text,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        created_at=row.created_at,
        withdrawn_at=row.withdrawn_at,
    )
