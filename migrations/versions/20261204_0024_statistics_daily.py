"""statistics per local day

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04

Issue 18 (speed of the follow-up statistics). The episodes' indicators (notices, days from
discharge-ready to discharge, readmissions, the summons deadline) scanned a region's events of
the period on every request. ``statistics_daily`` holds them per local day, fact, region,
municipality and hospital unit, with exact integer histograms (whole days, the summons deadline's
outcome) in ``value`` and the number of records in ``n``; the service keeps it in the transaction
of each write it is derived from (`app.store.statistics_daily`), and `samverkan statistics
recompute` rebuilds it. This migration fills it from the events already stored, with the same
rules as that module (written out here: a migration keeps the schema it was written for).
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONE = "CASE e.jurisdiction WHEN 'SE' THEN 'Europe/Stockholm' WHEN 'NO' THEN 'Europe/Oslo' END"
SE = "'Europe/Stockholm'"


def _pg_day(moment: str, zone: str) -> str:
    return f"(CAST(({moment} AT TIME ZONE {zone}) AS DATE) - DATE '1970-01-01')"


def _sqlite_day(moment: str, zone: str) -> str:
    return f"sv_local_day({moment}, {zone})"


def _pg_seconds(moment: str) -> str:
    return f"EXTRACT(EPOCH FROM {moment})"


def _sqlite_seconds(moment: str) -> str:
    return f"((julianday({moment}) - 2440587.5) * 86400.0)"


def fill(day: Callable[[str, str], str], seconds: Callable[[str], str]) -> str:
    """The INSERT that counts every fact of the stored episodes."""
    keys = "e.region_id, e.municipality_id, e.hospital_unit_id"
    within = f"{seconds('v.at')} - {seconds('e.admitted_at')} <= 86400"
    value = f"CASE WHEN v.kind = 'admission-notice' AND {within} THEN 1 ELSE 0 END"
    days = (
        f"CASE WHEN e.discharge_ready_at IS NULL THEN -1 ELSE "
        f"{day('e.discharged_at', ZONE)} - {day('e.discharge_ready_at', ZONE)} END"
    )
    sent = (
        "(SELECT min(m.sent_at) FROM meetings m WHERE m.person_id = e.person_id "
        "AND m.status != 'cancelled' AND m.sent_at >= v.at)"
    )
    withdrawn = (
        "(SELECT min(w.at) FROM episode_events w WHERE w.episode_id = v.episode_id "
        "AND w.kind = 'discharge-ready-withdrawn' AND w.seq > v.seq)"
    )
    outcome = (
        "CASE WHEN s.sent_day IS NOT NULL THEN "
        "CASE WHEN s.sent_day < s.day + 4 THEN 1 ELSE 2 END "
        "WHEN s.withdrawn_day IS NOT NULL AND s.withdrawn_day < s.day + 4 THEN 3 ELSE 0 END"
    )
    return f"""
INSERT INTO statistics_daily (fact, day, region_id, municipality_id, unit_id, value, n)
SELECT v.kind, {day("v.at", ZONE)}, {keys}, {value}, count(*)
FROM episode_events v JOIN episodes e ON e.id = v.episode_id
WHERE v.kind IN ('admission-notice', 'discharge-ready', 'discharge-ready-withdrawn')
GROUP BY v.kind, {day("v.at", ZONE)}, {keys}, {value}
UNION ALL
SELECT 'discharge', {day("e.discharged_at", ZONE)}, {keys}, {days}, count(*)
FROM episodes e WHERE e.discharged_at IS NOT NULL
GROUP BY {day("e.discharged_at", ZONE)}, {keys}, {days}
UNION ALL
SELECT 'readmitted', {day("e.discharged_at", ZONE)}, {keys}, 0, count(*)
FROM episodes e WHERE e.discharged_at IS NOT NULL AND e.id IN (
    SELECT l.readmission_of_id FROM episodes l
    WHERE l.readmission_of_id IS NOT NULL AND l.admission_type = 'acute')
GROUP BY {day("e.discharged_at", ZONE)}, {keys}
UNION ALL
SELECT 'summons', s.day, s.region_id, s.municipality_id, s.hospital_unit_id, {outcome}, count(*)
FROM (
    SELECT {day("v.at", ZONE)} AS day, {keys},
           {day(sent, SE)} AS sent_day, {day(withdrawn, SE)} AS withdrawn_day
    FROM episode_events v JOIN episodes e ON e.id = v.episode_id
    WHERE v.kind = 'discharge-ready' AND CAST(v.data AS VARCHAR) LIKE '%"coordinated_planning"%'
      AND e.jurisdiction = 'SE'
) s
GROUP BY s.day, s.region_id, s.municipality_id, s.hospital_unit_id, {outcome}
"""


def upgrade() -> None:
    op.create_table(
        "statistics_daily",
        sa.Column("fact", sa.String(32), nullable=False),
        sa.Column("region_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("municipality_id", sa.String(64), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(
            "fact",
            "region_id",
            "day",
            "municipality_id",
            "unit_id",
            "value",
            name="pk_statistics_daily",
        ),
    )
    op.create_index(
        "ix_statistics_daily_municipality_id_fact_day",
        "statistics_daily",
        ["municipality_id", "fact", "day"],
    )
    op.create_index(
        "ix_statistics_daily_unit_id_fact_day", "statistics_daily", ["unit_id", "fact", "day"]
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(sa.text(fill(_pg_day, _pg_seconds)))
    else:
        op.execute(sa.text(fill(_sqlite_day, _sqlite_seconds)))


def downgrade() -> None:
    op.drop_table("statistics_daily")
