"""liability intervals stored beside the notices; indexes for the follow-up statistics

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Each episode's liable intervals are derived from its notices when one is appended and kept with
the rule set and rate table they came from (issue 20, item 6), so that the monthly invoice basis
and the statistics sum them in SQL. ``liability_state`` names the configuration they are in step
with; a database migrated from before has none, and the service recomputes every episode's
intervals when it first starts on it. The statistics count events by kind and time, deviations by
when they were answered, and readmissions by the episode they follow.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "liable_intervals",
        sa.Column("episode_id", sa.String(36), sa.ForeignKey("episodes.id"), nullable=False),
        sa.Column("clock", sa.Integer, nullable=False),
        sa.Column("region_id", sa.String(64), nullable=False),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("rule_set_id", sa.String(64), nullable=False),
        sa.Column("rule_set_version", sa.String(16), nullable=False),
        sa.Column("rate_table_id", sa.String(64), nullable=False),
        sa.Column("rate_table_version", sa.String(16), nullable=False),
        sa.Column("counting", sa.String(16), nullable=False),
        sa.Column("first_day", sa.Integer, nullable=False),
        sa.Column("stop_day", sa.Integer, nullable=True),
        sa.Column("first_at_us", sa.BigInteger, nullable=True),
        sa.Column("periods", sa.Integer, nullable=True),
        sa.Column("ends_at_us", sa.BigInteger, nullable=True),
        sa.Column("config_version", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("episode_id", "clock", name="pk_liable_intervals"),
    )
    op.create_index(
        "ix_liable_intervals_municipality_id_first_day",
        "liable_intervals",
        ["municipality_id", "first_day"],
    )
    op.create_index(
        "ix_liable_intervals_region_id_first_day", "liable_intervals", ["region_id", "first_day"]
    )
    op.create_index(
        "ix_liable_intervals_config_version", "liable_intervals", ["config_version"]
    )
    op.create_table(
        "liability_state",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("recomputed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_liability_state"),
    )
    op.add_column(
        "deviations", sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_episode_events_kind_at", "episode_events", ["kind", "at"])
    op.create_index("ix_episodes_region_id_admitted_at", "episodes", ["region_id", "admitted_at"])
    op.create_index("ix_episodes_readmission_of_id", "episodes", ["readmission_of_id"])
    op.create_index("ix_plan_versions_recorded_at", "plan_versions", ["recorded_at"])
    op.create_index("ix_meetings_starts_at", "meetings", ["starts_at"])
    op.create_index("ix_deviations_reported_at", "deviations", ["reported_at"])
    op.create_index("ix_care_messages_sent_at", "care_messages", ["sent_at"])


def downgrade() -> None:
    for index, table in [
        ("ix_care_messages_sent_at", "care_messages"),
        ("ix_deviations_reported_at", "deviations"),
        ("ix_meetings_starts_at", "meetings"),
        ("ix_plan_versions_recorded_at", "plan_versions"),
        ("ix_episodes_readmission_of_id", "episodes"),
        ("ix_episodes_region_id_admitted_at", "episodes"),
        ("ix_episode_events_kind_at", "episode_events"),
    ]:
        op.drop_index(index, table_name=table)
    with op.batch_alter_table("deviations") as batch:
        batch.drop_column("answered_at")
    op.drop_table("liability_state")
    op.drop_index("ix_liable_intervals_config_version", table_name="liable_intervals")
    op.drop_index("ix_liable_intervals_region_id_first_day", table_name="liable_intervals")
    op.drop_index("ix_liable_intervals_municipality_id_first_day", table_name="liable_intervals")
    op.drop_table("liable_intervals")
