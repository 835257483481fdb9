"""plans and meetings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("initiating_principal_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_plans_person_id_persons"),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
    )
    op.create_index("ix_plans_person_id", "plans", ["person_id"])
    op.create_index("ix_plans_status", "plans", ["status"])
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_versions_plan_id_plans"),
        sa.PrimaryKeyConstraint("plan_id", "version", name="pk_plan_versions"),
    )
    op.create_table(
        "plan_sharing",
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("principal_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_sharing_plan_id_plans"),
        sa.PrimaryKeyConstraint("plan_id", "principal_id", name="pk_plan_sharing"),
    )
    op.create_index(
        "ix_plan_sharing_principal_id_plan_id", "plan_sharing", ["principal_id", "plan_id"]
    )
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("plan_id", sa.String(36), nullable=True),
        sa.Column("episode_id", sa.String(36), nullable=True),
        sa.Column("organizer_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_by", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_meetings_person_id_persons"
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_meetings_plan_id_plans"),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name="fk_meetings_episode_id_episodes"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_meetings"),
    )
    op.create_index("ix_meetings_plan_id", "meetings", ["plan_id"])
    op.create_index("ix_meetings_episode_id", "meetings", ["episode_id"])
    op.create_index("ix_meetings_person_id", "meetings", ["person_id"])


def downgrade() -> None:
    op.drop_table("meetings")
    op.drop_table("plan_sharing")
    op.drop_table("plan_versions")
    op.drop_table("plans")
