"""care messages and deviation reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}"
    )


def upgrade() -> None:
    op.create_table(
        "care_messages",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("thread_id", sa.String(36), nullable=False),
        sa.Column("in_reply_to", sa.String(36), nullable=True),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk("care_messages", "sender_id", "organizations"),
        _fk("care_messages", "person_id", "persons"),
        sa.PrimaryKeyConstraint("id", name="pk_care_messages"),
    )
    op.create_index("ix_care_messages_thread_id", "care_messages", ["thread_id"])
    op.create_index("ix_care_messages_person_id", "care_messages", ["person_id"])
    op.create_index("ix_care_messages_sender_id_id", "care_messages", ["sender_id", "id"])
    op.create_table(
        "care_message_recipients",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("detail", sa.String(1000), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        _fk("care_message_recipients", "message_id", "care_messages"),
        _fk("care_message_recipients", "organization_id", "organizations"),
        sa.PrimaryKeyConstraint(
            "message_id", "organization_id", name="pk_care_message_recipients"
        ),
    )
    op.create_index(
        "ix_care_message_recipients_organization_id_message_id",
        "care_message_recipients",
        ["organization_id", "message_id"],
    )
    op.create_table(
        "deviations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("episode_id", sa.String(36), nullable=True),
        sa.Column("plan_id", sa.String(36), nullable=True),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reporter_id", sa.String(64), nullable=False),
        sa.Column("reporter_principal_id", sa.String(64), nullable=False),
        sa.Column("handler_principal_id", sa.String(64), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        _fk("deviations", "person_id", "persons"),
        _fk("deviations", "episode_id", "episodes"),
        _fk("deviations", "plan_id", "plans"),
        sa.PrimaryKeyConstraint("id", name="pk_deviations"),
    )
    op.create_index(
        "ix_deviations_reporter_principal_id_id", "deviations", ["reporter_principal_id", "id"]
    )
    op.create_index(
        "ix_deviations_handler_principal_id_id", "deviations", ["handler_principal_id", "id"]
    )
    op.create_index("ix_deviations_person_id", "deviations", ["person_id"])


def downgrade() -> None:
    op.drop_table("deviations")
    op.drop_table("care_message_recipients")
    op.drop_table("care_messages")
