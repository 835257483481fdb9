"""meetings held; units' Norwegian service codes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

A meeting can now be marked held: ``held_at`` is when it took place, and only a held meeting
answers a plan's follow-up date (a meeting merely summoned, even one whose time has passed, no
longer hides an overdue follow-up). Meetings summoned before this migration stay ``scheduled``.

A Norwegian unit may carry its service (tjenestetype, Volven 8663: saksbehandling,
sykepleietjeneste, psykisk helsetjeneste, …): the PLO messages are addressed to a service, and the
outbox routes a Norwegian municipality's notices to the unit that provides it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ adds and drops a plain column in place): a batch copy of
    # ``organizations`` would break the foreign keys that point at it.
    op.add_column("meetings", sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("organizations", sa.Column("service_code", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("organizations", "service_code")
    op.drop_column("meetings", "held_at")
