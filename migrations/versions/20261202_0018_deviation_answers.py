"""deviations answered before answered_at existed get it from their history; index it

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02

Migration 0009 added ``deviations.answered_at`` (when the handler first answered, the statistics'
time to answer) but left it empty on the rows already stored, so a deviation answered before then
never counted in "hours from a deviation report to its answer". Every row's JSON document keeps
its steps; this migration sets ``answered_at`` from the first step into ``answered``, and indexes
the column, since the statistics pick the answers of a period by it. The rule is written out here
rather than imported, so that the migration keeps doing what it did when the application changes.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _first_answer(document: Any) -> datetime | None:
    steps = document.get("history") if isinstance(document, dict) else None
    for step in steps or []:
        if isinstance(step, dict) and step.get("state") == "answered" and step.get("at"):
            at = datetime.fromisoformat(step["at"])
            return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return None


def upgrade() -> None:
    bind = op.get_bind()
    deviations = sa.table(
        "deviations",
        sa.column("id", sa.String),
        sa.column("document", sa.JSON),
        sa.column("answered_at", sa.DateTime(timezone=True)),
    )
    sqlite = bind.dialect.name == "sqlite"
    unanswered = sa.select(deviations.c.id, deviations.c.document).where(
        deviations.c.answered_at.is_(None)
    )
    for deviation_id, document in bind.execute(unanswered).all():
        answered = _first_answer(document)
        if answered is None:
            continue
        # The application stores instants on SQLite as naive UTC.
        value = answered.astimezone(UTC)
        bind.execute(
            sa.update(deviations)
            .where(deviations.c.id == deviation_id)
            .values(answered_at=value.replace(tzinfo=None) if sqlite else value)
        )
    op.create_index("ix_deviations_answered_at", "deviations", ["answered_at"])


def downgrade() -> None:
    # The backfilled values are what the application would have written; they stay.
    op.drop_index("ix_deviations_answered_at", table_name="deviations")
