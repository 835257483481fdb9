"""The directory: organizations and their identifiers, cooperation areas, persons and the staff
register (practitioners and their roles).

Declared on the shared ``metadata``; ``app.store.tables`` re-exports every table here."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from app.store.table_types import UTCDateTime, metadata

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
