"""summons indexes

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03

Issue 18 (speed of the follow-up statistics). The summons-deadline indicator decides each
discharge-ready notice that asks for coordinated planning by its person's first summons and its
episode's first later withdrawal. It read every discharge-ready notice of the period from the
table (the JSON data says whether planning was asked), and looked up withdrawals through the
index of all notices by kind and time. Two partial indexes give it both from an index alone:

- the notices whose data asks for coordinated planning, by kind and time, carrying episode and
  sequence number (about half of the discharge-ready notices, a sixth of all events);
- the withdrawals, by episode and sequence number, carrying their time.

PostgreSQL also keeps statistics of the data as text, so that it can tell how many notices ask
for coordinated planning (without them it guessed 0.5 % and probed the episodes one notice at a
time). SQLite gets the same partial indexes.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported: a migration keeps the schema it was written for.
COORDINATED_PLANNING = """CAST(data AS VARCHAR) LIKE '%"coordinated_planning"%'"""
WITHDRAWN = "kind = 'discharge-ready-withdrawn'"
STATISTICS = "st_episode_events_data_text"


def upgrade() -> None:
    op.create_index(
        "ix_episode_events_coordinated_planning",
        "episode_events",
        ["kind", "at"],
        postgresql_include=["episode_id", "seq"],
        postgresql_where=text(COORDINATED_PLANNING),
        sqlite_where=text(COORDINATED_PLANNING),
    )
    op.create_index(
        "ix_episode_events_withdrawn",
        "episode_events",
        ["episode_id", "seq"],
        postgresql_include=["at"],
        postgresql_where=text(WITHDRAWN),
        sqlite_where=text(WITHDRAWN),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"CREATE STATISTICS {STATISTICS} ON (CAST(data AS VARCHAR)) FROM episode_events")
        op.execute("ANALYZE episode_events")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
    op.drop_index("ix_episode_events_withdrawn", "episode_events")
    op.drop_index("ix_episode_events_coordinated_planning", "episode_events")
