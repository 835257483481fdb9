"""Readiness: whether the database answers, and at which migration its schema is."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.database import current_revision


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The database's migration revision (None before the first); raises when it is down."""
    return await current_revision(engine)
