"""Coordinated individual plans, their versions and follow-ups, and meetings.

Declared on the shared ``metadata``; ``app.store.tables`` re-exports every table here."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from app.store.table_types import UTCDateTime, metadata

# Coordinated individual plans. The plan's content, consents and withdrawals are one JSON document
# (the unit that is versioned); what is queried on is in columns.
plans = Table(
    "plans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    Column("status", String(16), nullable=False),
    Column("initiating_principal_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "person_id"),
    Index(None, "status"),
)

# Every version of every plan, as it was: revisions never overwrite history.
plan_versions = Table(
    "plan_versions",
    metadata,
    Column("plan_id", String(36), ForeignKey("plans.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("document", JSON, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
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
    Column("plan_id", String(36), ForeignKey("plans.id"), primary_key=True),
    Column("follow_up_date", Date, primary_key=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("overdue_at", UTCDateTime, nullable=False),
    Column("answered_from", UTCDateTime, nullable=True),
    Column("answered_until", UTCDateTime, nullable=True),
    Index(None, "due_at"),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=False),
    Column("plan_id", String(36), ForeignKey("plans.id"), nullable=True),
    Column("episode_id", String(36), ForeignKey("episodes.id"), nullable=True),
    Column("organizer_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("reply_by", Date, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    # When it took place, once the organizer marked it held (status ``held``).
    Column("held_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    # When the current version was written (migration 0020 filled it in for older meetings).
    Column("updated_at", UTCDateTime, nullable=True),
    Column("document", JSON, nullable=False),
    Index(None, "plan_id"),
    Index(None, "episode_id"),
    Index(None, "person_id"),
    Index(None, "starts_at"),
)
