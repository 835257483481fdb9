"""What units send one another: processed messages, care messages and their recipients, deviation
reports and bulletins.

Declared on the shared ``metadata``; ``app.store.tables`` re-exports every table here."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Index,
    String,
    Table,
    Text,
)

from app.store.columns import instant, organization, own_id, refers_to, version
from app.store.table_types import metadata

# Messages processed through $process-message, kept for the dedupe window of reliable messaging.
processed_messages = Table(
    "processed_messages",
    metadata,
    Column("sender_id", String(64), primary_key=True),
    Column("bundle_id", String(64), primary_key=True),
    Column("header_id", String(64), nullable=False),
    Column("event", String(40), nullable=False),
    instant("received_at"),
    Column("response", JSON, nullable=False),
    Index(None, "received_at"),
)

# Care messages between units; each recipient's copy has its own state.
care_messages = Table(
    "care_messages",
    metadata,
    own_id(),
    Column("thread_id", String(36), nullable=False),
    Column("in_reply_to", String(36), nullable=True),
    organization("sender_id"),
    refers_to("person_id", "persons", nullable=True),
    Column("category", String(20), nullable=False),
    Column("priority", String(10), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("text", Text, nullable=False),
    instant("sent_at"),
    version(),
    Index(None, "thread_id"),
    Index(None, "person_id"),
    Index(None, "sender_id", "id"),
    Index(None, "sent_at"),
)

care_message_recipients = Table(
    "care_message_recipients",
    metadata,
    refers_to("message_id", "care_messages", primary_key=True),
    organization("organization_id", primary_key=True),
    Column("state", String(16), nullable=False),
    instant("read_at", nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("detail", String(1000), nullable=True),
    instant("acknowledged_at", nullable=True),
    Index(None, "organization_id", "message_id"),
)

# Deviation reports and their handling (the steps are a JSON list; what is queried on, columns).
deviations = Table(
    "deviations",
    metadata,
    own_id(),
    refers_to("person_id", "persons", nullable=True),
    refers_to("episode_id", "episodes", nullable=True),
    refers_to("plan_id", "plans", nullable=True),
    Column("category", String(40), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reporter_id", String(64), nullable=False),
    Column("reporter_principal_id", String(64), nullable=False),
    Column("handler_principal_id", String(64), nullable=False),
    # The organization that handles it (where the principal's MAS or deviation handler works,
    # else the principal) and that role, if the staff register has one.
    Column("handler_id", String(64), nullable=False),
    Column("handler_role_id", String(36), nullable=True),
    instant("reported_at"),
    # When the handler first answered (derived from the steps; the statistics' time to answer).
    instant("answered_at", nullable=True),
    version(),
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
    own_id(),
    Column("board_id", String(64), nullable=False),
    organization("author_id"),
    Column("author_principal_id", String(64), nullable=False),
    Column("category", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("text", Text, nullable=False),
    instant("valid_from"),
    instant("valid_until", nullable=True),
    instant("created_at"),
    instant("withdrawn_at", nullable=True),
    Index(None, "board_id", "valid_from"),
)
