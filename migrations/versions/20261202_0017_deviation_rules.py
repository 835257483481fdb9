"""deviations that raise themselves, and deviations about no person

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02

A scheduled job raises some deviations by itself (a summons deadline breached, a late admission
notice), each once: ``deviation_rule_outcomes`` keeps one row per rule and record it decided,
whether it raised a deviation or found nothing to raise, and its primary key is what lets only
one of several processes raise it. A deviation may concern no episode and no plan (a general
cooperation failure, naming the organizations involved), and so no person.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deviation_rule_outcomes",
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("deviation_id", sa.String(36), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule", "record_id", "part", name="pk_deviation_rule_outcomes"),
    )
    with op.batch_alter_table("deviations", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=sa.String(36), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM record_parties WHERE record_type = 'deviation' AND person_id IS NULL")
    op.execute("DELETE FROM deviations WHERE person_id IS NULL")
    with op.batch_alter_table("deviations", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=sa.String(36), nullable=False)
    op.drop_table("deviation_rule_outcomes")
