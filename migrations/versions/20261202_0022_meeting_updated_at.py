"""when a meeting last changed

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02

Issue 16: every FHIR resource carries ``meta.lastUpdated``, the instant its version was written.
A meeting (Appointment, and its participants' AppointmentResponses) changes with each reply,
rescheduling, cancellation and when it is marked held, but kept no time of its last change.
``updated_at`` is that time from now on. A meeting written before this migration gets the
latest instant it stored of its own changes: when it was marked held, else when it was sent
(replies, which a reschedule clears, are not columns).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, as in 0016: SQLite adds a nullable column in place.
    op.add_column("meetings", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE meetings SET updated_at = CASE WHEN held_at IS NOT NULL AND held_at > sent_at "
        "THEN held_at ELSE sent_at END"
    )


def downgrade() -> None:
    op.drop_column("meetings", "updated_at")
