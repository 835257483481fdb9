"""person gender

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02

Issue 16: a Patient's administrative gender (male, female, other, unknown) is kept as sent over
FHIR and answered again on read; before, it was accepted and dropped. Persons registered before
have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A plain ALTER TABLE on both databases: batch mode would copy the persons table on SQLite,
# which the rows that refer to persons do not allow.
def upgrade() -> None:
    op.add_column("persons", sa.Column("gender", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("persons", "gender")
