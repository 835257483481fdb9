"""statistics indexes

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03

Issue 18 (speed of the follow-up statistics). The indicators aggregate a period's notices,
discharges and plan versions of a region or municipality; these indexes let PostgreSQL read
them from an index alone instead of the tables' rows (episodes and plan versions are wide, an
event carries its JSON data):

- the notices of a kind in a time range carry their episode and sequence number;
- a region's episodes by admission carry what the notices are joined to them for (the id,
  municipality, unit, person and jurisdiction), and by discharge what a discharge is counted
  by (the id, the notice in force, municipality and unit);
- a plan's versions in a status by plan with their time (the first version in a status), and
  the versions by number and time (the first version);
- an organization's record parties carry the role (a region's plans are those it participates
  in), and PostgreSQL keeps statistics of organization, record type and role together: alone,
  it multiplied their frequencies, guessed a region's plans 25 times too few and probed the
  plans one by one.

Both episodes indexes keep their key columns, so every query that used them still does. SQLite
has no INCLUDE; there the indexes are as before (and the new ones plain).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, index, key columns, columns included after the upgrade)
COVERED = [
    ("episode_events", "ix_episode_events_kind_at", ["kind", "at"], ["episode_id", "seq"]),
    (
        "episodes",
        "ix_episodes_region_id_admitted_at",
        ["region_id", "admitted_at"],
        ["id", "municipality_id", "hospital_unit_id", "person_id", "jurisdiction"],
    ),
    (
        "episodes",
        "ix_episodes_region_id_discharged_at",
        ["region_id", "discharged_at"],
        ["id", "discharge_ready_at", "municipality_id", "hospital_unit_id"],
    ),
    (
        "record_parties",
        "ix_record_parties_organization",
        ["organization_id", "record_type", "record_id", "person_id"],
        ["role"],
    ),
]
STATISTICS = "st_record_parties_organization_record_type_role"


def upgrade() -> None:
    for table, name, columns, include in COVERED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, postgresql_include=include)
    with op.batch_alter_table("plan_versions") as batch_op:
        batch_op.create_index(
            "ix_plan_versions_status_plan_id_recorded_at", ["status", "plan_id", "recorded_at"]
        )
        batch_op.create_index(
            "ix_plan_versions_version_recorded_at",
            ["version", "recorded_at"],
            postgresql_include=["plan_id"],
        )
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"CREATE STATISTICS {STATISTICS} (mcv) ON organization_id, record_type, role "
            "FROM record_parties"
        )
        op.execute("ANALYZE record_parties")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
    with op.batch_alter_table("plan_versions") as batch_op:
        batch_op.drop_index("ix_plan_versions_version_recorded_at")
        batch_op.drop_index("ix_plan_versions_status_plan_id_recorded_at")
    for table, name, columns, _include in COVERED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, columns)
