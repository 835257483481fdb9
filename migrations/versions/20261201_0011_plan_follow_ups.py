"""plan follow-up dates in a table of their own, for the overdue-follow-up statistic

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

A plan's follow-up dates were only in its JSON document, so whether one had passed without a
meeting could only be decided in Python, plan by plan. Each date now has a row with the instant it
falls overdue (the start of the local day after it) and the instants between which a meeting's
start answers it (from the local day after the previous follow-up date, or the plan's start, to the
end of the local day of the next one), written by the plan repository with every version. This
migration fills it from the current version of every plan. The rule is written out here rather
than imported, so that the migration keeps doing what it did when the application changes.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONES = {"SE": ZoneInfo("Europe/Stockholm"), "NO": ZoneInfo("Europe/Oslo")}


def _rows(plan_id: str, jurisdiction: str, content: dict[str, Any]) -> list[dict[str, object]]:
    zone = ZONES[jurisdiction]

    def day_after(day: date | None) -> datetime | None:
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)

    start = content.get("start_date")
    dates = [date.fromisoformat(d) for d in content.get("follow_up_dates") or []]
    return [
        {
            "plan_id": plan_id,
            "follow_up_date": day,
            "due_at": datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC),
            "overdue_at": day_after(day),
            "answered_from": day_after(
                dates[i - 1] if i else (date.fromisoformat(start) if start else None)
            ),
            "answered_until": day_after(dates[i + 1] if i + 1 < len(dates) else None),
        }
        for i, day in enumerate(dates)
    ]


def _naive(value: object) -> object:
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


def upgrade() -> None:
    follow_ups = op.create_table(
        "plan_follow_ups",
        sa.Column("plan_id", sa.String(36), sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("follow_up_date", sa.Date, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", "follow_up_date", name="pk_plan_follow_ups"),
    )
    op.create_index("ix_plan_follow_ups_due_at", "plan_follow_ups", ["due_at"])
    bind = op.get_bind()
    plans = sa.table(
        "plans", sa.column("id"), sa.column("jurisdiction"), sa.column("document", sa.JSON)
    )
    sqlite = bind.dialect.name == "sqlite"
    rows = []
    for plan_id, jurisdiction, document in bind.execute(sa.select(plans)):
        for row in _rows(plan_id, jurisdiction, document["content"]):
            if sqlite:
                # The application stores instants on SQLite as naive UTC.
                row = {k: _naive(v) for k, v in row.items()}
            rows.append(row)
    if rows:
        op.bulk_insert(follow_ups, rows)


def downgrade() -> None:
    op.drop_index("ix_plan_follow_ups_due_at", table_name="plan_follow_ups")
    op.drop_table("plan_follow_ups")
