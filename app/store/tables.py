"""The relational schema as SQLAlchemy Core tables, created only by Alembic migrations.

A store module of its own may declare its tables on this ``metadata`` (``deviation_rules`` does;
``migrations/env.py`` imports it). Rows are mapped to domain objects explicitly, in ``app.store``'s
repository modules, one per concept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so values are normalized to UTC on the way in and tagged on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database layer")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # asyncpg already returns every timestamptz as an aware datetime in UTC; skipping the
        # per-value call matters when a report reads hundreds of thousands of them.
        if dialect.name == "postgresql" and dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    Column("parent_id", String(64), ForeignKey("organizations.id"), nullable=True),
    Column("function", String(32), nullable=True),
    # A Norwegian unit's service (tjenestetype, Volven 8663): PLO messages are addressed by it.
    Column("service_code", String(16), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "parent_id"),
    Index(None, "kind", "jurisdiction"),
)

organization_identifiers = Table(
    "organization_identifiers",
    metadata,
    Column("organization_id", String(64), ForeignKey("organizations.id"), primary_key=True),
    Column("system", String(200), primary_key=True),
    Column("value", String(100), nullable=False),
    UniqueConstraint("system", "value"),
)

cooperation_areas = Table(
    "cooperation_areas",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("region_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

cooperation_area_members = Table(
    "cooperation_area_members",
    metadata,
    Column("area_id", String(64), ForeignKey("cooperation_areas.id"), primary_key=True),
    Column("municipality_id", String(64), ForeignKey("organizations.id"), primary_key=True),
    Index(None, "municipality_id"),
)

persons = Table(
    "persons",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("identifier_system", String(200), nullable=False),
    Column("identifier_value", String(40), nullable=False),
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("residence_municipality_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("stay_municipality_id", String(64), ForeignKey("organizations.id"), nullable=True),
    Column("protected_identity", Boolean, nullable=False),
    Column("address", Text, nullable=True),
    Column("phone", String(40), nullable=True),
    Column("gender", String(16), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("identifier_system", "identifier_value"),
    Index(None, "residence_municipality_id"),
)

episodes = Table(
    "episodes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=False),
    Column("hospital_unit_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("region_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("municipality_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("primary_care_unit_id", String(64), ForeignKey("organizations.id"), nullable=True),
    Column("jurisdiction", String(2), nullable=False),
    Column("admitted_at", UTCDateTime, nullable=False),
    Column("admission_type", String(16), nullable=False),
    Column("care_type", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("expected_discharge_date", Date, nullable=True),
    Column("discharge_ready_at", UTCDateTime, nullable=True),
    Column("first_discharge_ready_at", UTCDateTime, nullable=True),
    Column("discharged_at", UTCDateTime, nullable=True),
    Column("readmission_of_id", String(36), ForeignKey("episodes.id"), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "person_id", "admitted_at"),
    Index(None, "municipality_id", "state", "id"),
    Index(None, "municipality_id", "discharged_at"),
    Index(None, "municipality_id", "first_discharge_ready_at"),
    # The statistics read a region's discharges and notices from these alone (migration 0020).
    Index(
        None,
        "region_id",
        "discharged_at",
        postgresql_include=["id", "discharge_ready_at", "municipality_id", "hospital_unit_id"],
    ),
    Index(
        None,
        "region_id",
        "admitted_at",
        postgresql_include=[
            "id",
            "municipality_id",
            "hospital_unit_id",
            "person_id",
            "jurisdiction",
        ],
    ),
    Index(None, "readmission_of_id"),
)

episode_events = Table(
    "episode_events",
    metadata,
    Column("episode_id", String(36), ForeignKey("episodes.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("data", JSON, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index(None, "kind", "at", postgresql_include=["episode_id", "seq"]),
)

# Each episode's liable intervals (individual model), derived from its notices by the domain's
# `liable_intervals` in the transaction that appends a notice, and redone by `samverkan liability
# recompute` when the configuration changes; with the rule set and rate table (and the versions of
# both) they came from. Days are local day numbers (days since 1970-01-01), døgn periods epoch
# microseconds, so that both engines sum them with integer arithmetic. Region, municipality and
# unit are the episode's, copied so that a report or a statistic filters without a join.
liable_intervals = Table(
    "liable_intervals",
    metadata,
    Column("episode_id", String(36), ForeignKey("episodes.id"), primary_key=True),
    Column("clock", Integer, primary_key=True),
    Column("region_id", String(64), nullable=False),
    Column("municipality_id", String(64), nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("rule_set_id", String(64), nullable=False),
    Column("rule_set_version", String(16), nullable=False),
    Column("rate_table_id", String(64), nullable=False),
    Column("rate_table_version", String(16), nullable=False),
    Column("counting", String(16), nullable=False),
    Column("first_day", Integer, nullable=False),
    Column("stop_day", Integer, nullable=True),
    Column("first_at_us", BigInteger, nullable=True),
    Column("periods", Integer, nullable=True),
    Column("ends_at_us", BigInteger, nullable=True),
    Column("config_version", String(16), nullable=False),
    Index(None, "municipality_id", "first_day"),
    Index(None, "region_id", "first_day"),
    Index(None, "config_version"),
)

# The liability configuration the stored intervals are in step with (one row, id 1): its version
# and the configuration itself, so that every process computes with the same one.
liability_state = Table(
    "liability_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", String(16), nullable=False),
    Column("config", JSON, nullable=False),
    Column("recomputed_at", UTCDateTime, nullable=False),
)

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
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),
)

clients = Table(
    "clients",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("organization_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("jwks", JSON, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "organization_id"),
)

used_assertions = Table(
    "used_assertions",
    metadata,
    Column("client_id", String(64), ForeignKey("clients.id"), primary_key=True),
    Column("jti", String(200), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
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
    Column("organization_id", String(64), ForeignKey("organizations.id"), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
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
    Column("revoked_before", UTCDateTime, nullable=False),
)

access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
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

# The staff register: practitioners (HSA-id, HPR-nummer) and their roles at organizations.
practitioners = Table(
    "practitioners",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("identifier_system", String(200), nullable=False),
    Column("identifier_value", String(40), nullable=False),
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("identifier_system", "identifier_value"),
)

practitioner_roles = Table(
    "practitioner_roles",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("practitioner_id", String(36), ForeignKey("practitioners.id"), nullable=False),
    Column("organization_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("principal_id", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("title", String(200), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "practitioner_id"),
    Index(None, "organization_id", "role"),
    Index(None, "principal_id", "role"),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("user_id", String(200), nullable=True),
    Column("user_name", String(200), nullable=True),
    Column("organization_id", String(64), nullable=True),
    Column("role", String(32), nullable=True),
    Column("pending", JSON, nullable=True),
    Index(None, "last_seen_at"),
)
