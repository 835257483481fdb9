"""Getting events out: the transactional outbox, rest-hook subscriptions and deliveries.

Declared on the shared ``metadata``; ``app.store.tables`` re-exports every table here."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from app.store.table_types import UTCDateTime, metadata

# The transactional outbox (DESIGN §11): an event is written in the transaction of the state
# change that caused it. ``stream`` orders events (``Encounter/<id>``, ``CarePlan/<id>``): the
# events of one stream reach each receiver in the order they were committed.
outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("event", String(40), nullable=False),
    Column("stream", String(100), nullable=False),
    Column("person_id", String(36), nullable=True),
    Column("sender_id", String(64), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("request_id", String(64), nullable=True),
    Index(None, "created_at"),
)

# Rest-hook subscriptions of organizations (R4 Subscriptions Backport IG). ``secret`` signs every
# notification (HMAC-SHA256); ``numbered`` is the last event number the dispatcher handed out
# (events since the subscription's start are counted from its pushes, without a write here).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organization_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("topic", String(40), nullable=False),
    Column("patient_id", String(36), nullable=True),
    Column("endpoint", String(2000), nullable=False),
    Column("endpoint_origin", String(300), nullable=False),  # its breaker: app.store.breakers
    Column("secret", String(128), nullable=False),
    Column("content", String(16), nullable=False),
    Column("heartbeat_seconds", Integer, nullable=True),
    Column("status", String(16), nullable=False),
    Column("numbered", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "organization_id", "status"),
)

# One row per event and receiving organization (``state`` inbox: its inbox item, acknowledged
# there), and one per event and matching subscription (pushed by the dispatcher). ``txid`` is the
# writing transaction's id on PostgreSQL (0 on SQLite, whose writers are serial): readers order by
# (txid, id) and see only rows of older transactions than any still running (cursors never skip).
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), ForeignKey("outbox_events.id"), nullable=False),
    Column("receiver_id", String(64), nullable=False),
    Column("subscription_id", String(36), ForeignKey("subscriptions.id"), nullable=True),
    Column("stream", String(100), nullable=False),
    Column("event_number", Integer, nullable=True),
    Column("txid", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("outcome_detail", Text, nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "receiver_id", "state", "txid", "id"),
    Index(None, "state", "next_attempt_at"),
    Index(None, "subscription_id", "stream", "state"),
    Index(None, "event_id"),
)
