"""What units send one another: processed messages, care messages and their recipients, deviation
reports and bulletins.

Declared on the shared ``metadata``; ``app.store.tables`` re-exports every table here."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from app.store.table_types import UTCDateTime, metadata

# Messages processed through $process-message, kept for the dedupe window of reliable messaging.
processed_messages = Table(
    "processed_messages",
    metadata,
    Column("sender_id", String(64), primary_key=True),
    Column("bundle_id", String(64), primary_key=True),
    Column("header_id", String(64), nullable=False),
    Column("event", String(40), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("response", JSON, nullable=False),
    Index(None, "received_at"),
)

# Care messages between units; each recipient's copy has its own state.
care_messages = Table(
    "care_messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("thread_id", String(36), nullable=False),
    Column("in_reply_to", String(36), nullable=True),
    Column("sender_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=True),
    Column("category", String(20), nullable=False),
    Column("priority", String(10), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "thread_id"),
    Index(None, "person_id"),
    Index(None, "sender_id", "id"),
    Index(None, "sent_at"),
)

care_message_recipients = Table(
    "care_message_recipients",
    metadata,
    Column("message_id", String(36), ForeignKey("care_messages.id"), primary_key=True),
    Column("organization_id", String(64), ForeignKey("organizations.id"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("read_at", UTCDateTime, nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("detail", String(1000), nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Index(None, "organization_id", "message_id"),
)

# Deviation reports and their handling (the steps are a JSON list; what is queried on, columns).
deviations = Table(
    "deviations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=True),
    Column("episode_id", String(36), ForeignKey("episodes.id"), nullable=True),
    Column("plan_id", String(36), ForeignKey("plans.id"), nullable=True),
    Column("category", String(40), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reporter_id", String(64), nullable=False),
    Column("reporter_principal_id", String(64), nullable=False),
    Column("handler_principal_id", String(64), nullable=False),
    # The organization that handles it (where the principal's MAS or deviation handler works,
    # else the principal) and that role, if the staff register has one.
    Column("handler_id", String(64), nullable=False),
    Column("handler_role_id", String(36), nullable=True),
    Column("reported_at", UTCDateTime, nullable=False),
    # When the handler first answered (derived from the steps; the statistics' time to answer).
    Column("answered_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("document", JSON, nullable=False),
    Index(None, "reporter_principal_id", "id"),
    Index(None, "handler_principal_id", "id"),
    Index(None, "person_id"),
    Index(None, "reported_at"),
    Index(None, "answered_at"),
)

# Bulletins on the notice boards of regions and cooperation areas.
bulletins = Table(
    "bulletins",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("board_id", String(64), nullable=False),
    Column("author_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("author_principal_id", String(64), nullable=False),
    Column("category", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=True),
    Index(None, "board_id", "valid_from"),
)
