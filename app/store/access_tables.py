"""Who may do what: API clients and their revocations, used assertions, idempotency keys, the
parties of every record, the access log and console sessions.

Declared on the shared ``metadata``; ``app.store.tables`` re-exports every table here."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from app.store.columns import ORGANIZATION_ID, instant, organization, own_id, refers_to
from app.store.table_types import metadata

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(100), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("method", String(8), nullable=False),
    Column("path", String(500), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_headers", JSON, nullable=False),
    Column("response_body", LargeBinary, nullable=False),
    Column("disclosed", JSON, nullable=True),
    instant("created_at"),
    Index(None, "created_at"),
)

clients = Table(
    "clients",
    metadata,
    own_id(ORGANIZATION_ID),
    Column("name", String(200), nullable=False),
    organization("organization_id"),
    Column("jwks", JSON, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    instant("created_at"),
    Index(None, "organization_id"),
)

used_assertions = Table(
    "used_assertions",
    metadata,
    Column("client_id", String(64), ForeignKey("clients.id"), primary_key=True),
    Column("jti", String(200), primary_key=True),
    instant("expires_at"),
    Index(None, "expires_at"),
)

# The parties of every record (DESIGN §10): read on every access check. The primary key answers
# "may this organization, or any of this principal's, see this record" from the index alone; the
# two reach indexes list what a unit or a principal is a party to, and the person index answers
# "is the caller a party to any record of this person" and loads a person's parties.
record_parties = Table(
    "record_parties",
    metadata,
    Column("record_type", String(16), primary_key=True),
    Column("record_id", String(36), primary_key=True),
    Column("principal_id", String(64), primary_key=True),
    organization("organization_id", primary_key=True),
    Column("role", String(16), primary_key=True),
    refers_to("person_id", "persons", nullable=True),
    instant("created_at"),
    Index(
        "ix_record_parties_organization",
        "organization_id",
        "record_type",
        "record_id",
        "person_id",
        # The role, for the plans a region participates in (the statistics, migration 0020).
        postgresql_include=["role"],
    ),
    Index("ix_record_parties_principal", "principal_id", "record_type", "record_id", "person_id"),
    Index(
        "ix_record_parties_person",
        "person_id",
        "principal_id",
        "organization_id",
        "record_type",
        "record_id",
        "role",
    ),
)

# Tokens of a client issued before ``revoked_before`` are refused (the client was disabled).
client_revocations = Table(
    "client_revocations",
    metadata,
    Column("client_id", String(64), ForeignKey("clients.id"), primary_key=True),
    instant("revoked_before"),
)

access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    instant("at"),
    Column("client_id", String(64), nullable=False),
    Column("organization_id", String(64), nullable=False),
    # The caller's principal, and the unit it acted for (its own, or the one a principal-level
    # client named): each organization's log view is selected by these.
    Column("principal_id", String(64), nullable=False),
    Column("unit_id", String(64), nullable=True),
    Column("user_id", String(200), nullable=True),
    Column("action", String(16), nullable=False),
    Column("resource_type", String(40), nullable=False),
    Column("resource_id", String(64), nullable=True),
    Column("person_id", String(36), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("request_id", String(64), nullable=True),
    Index(None, "person_id", "at"),
    Index(None, "organization_id", "at"),
    Index(None, "principal_id", "id"),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("csrf_token", String(64), nullable=False),
    instant("created_at"),
    instant("last_seen_at"),
    Column("user_id", String(200), nullable=True),
    Column("user_name", String(200), nullable=True),
    Column("organization_id", String(64), nullable=True),
    Column("role", String(32), nullable=True),
    Column("pending", JSON, nullable=True),
    Index(None, "last_seen_at"),
)
