"""console sessions

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

The web console keeps its sessions on the server, so that every API process serves every
browser and a sign-out or an idle timeout ends the session everywhere at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("user_name", sa.String(200), nullable=True),
        sa.Column("organization_id", sa.String(64), nullable=True),
        sa.Column("role", sa.String(32), nullable=True),
        sa.Column("pending", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_sessions"),
    )
    op.create_index(
        "ix_console_sessions_last_seen_at", "console_sessions", ["last_seen_at"]
    )


def downgrade() -> None:
    op.drop_table("console_sessions")
