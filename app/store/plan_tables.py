"""Coordinated individual plans, their versions and follow-ups, and meetings.

Declared on the shared ``metadata``; ``app.store.tables`` re-exports every table here."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
)

from app.store.columns import created_and_updated, instant, own_id, refers_to, version
from app.store.table_types import metadata

# Coordinated individual plans. The plan's content, consents and withdrawals are one JSON document
# (the unit that is versioned); what is queried on is in columns.
plans = Table(
    "plans",
    metadata,
    own_id(),
    refers_to("person_id", "persons"),
    Column("jurisdiction", String(2), nullable=False),
    Column("status", String(16), nullable=False),
    Column("initiating_principal_id", String(64), nullable=False),
    version(),
    Column("document", JSON, nullable=False),
    *created_and_updated(),
    Index(None, "person_id"),
    Index(None, "status"),
)

# Every version of every plan, as it was: revisions never overwrite history.
plan_versions = Table(
    "plan_versions",
    metadata,
    refers_to("plan_id", "plans", primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("document", JSON, nullable=False),
    instant("recorded_at"),
    Column("organization_id", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Index(None, "recorded_at"),
    # A plan's first version, and its first version in a status (the statistics, migration 0020).
    Index(None, "status", "plan_id", "recorded_at"),
    Index(None, "version", "recorded_at", postgresql_include=["plan_id"]),
)

# Each plan's follow-up dates with the instant each falls overdue and the instants between which a
# meeting's start answers it (the domain's `follow_up_windows`, in the plan's local time),
# rewritten with every version of the plan so that the statistics count overdue follow-ups in SQL.
plan_follow_ups = Table(
    "plan_follow_ups",
    metadata,
    refers_to("plan_id", "plans", primary_key=True),
    Column("follow_up_date", Date, primary_key=True),
    instant("due_at"),
    instant("overdue_at"),
    instant("answered_from", nullable=True),
    instant("answered_until", nullable=True),
    Index(None, "due_at"),
)

meetings = Table(
    "meetings",
    metadata,
    own_id(),
    refers_to("person_id", "persons"),
    refers_to("plan_id", "plans", nullable=True),
    refers_to("episode_id", "episodes", nullable=True),
    Column("organizer_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    instant("starts_at"),
    Column("reply_by", Date, nullable=False),
    instant("sent_at"),
    # When it took place, once the organizer marked it held (status ``held``).
    instant("held_at", nullable=True),
    version(),
    # When the current version was written (migration 0020 filled it in for older meetings).
    instant("updated_at", nullable=True),
    Column("document", JSON, nullable=False),
    Index(None, "plan_id"),
    Index(None, "episode_id"),
    Index(None, "person_id"),
    Index(None, "starts_at"),
)
