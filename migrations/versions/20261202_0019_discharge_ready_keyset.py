"""discharge-ready keyset index

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02

Issue 20: a municipality's list of episodes in one state (the discharge-ready list) is paged by
episode id. An index on (municipality, state, id) gives each page as a range of the index in
cursor order, stopping at the page's end, where (municipality, state) alone made the database
read every episode of the state and sort them. It replaces that index, whose prefix it is.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("episodes") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_episodes_municipality_id_state_id"), ["municipality_id", "state", "id"]
        )
        batch_op.drop_index(batch_op.f("ix_episodes_municipality_id_state"))


def downgrade() -> None:
    with op.batch_alter_table("episodes") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_episodes_municipality_id_state"), ["municipality_id", "state"]
        )
        batch_op.drop_index(batch_op.f("ix_episodes_municipality_id_state_id"))
