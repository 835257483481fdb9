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
    String,
    Table,
    Text,
    UniqueConstraint,
)

from app.store.columns import (
    ORGANIZATION_ID,
    identifier_and_name,
    instant,
    organization,
    own_id,
    refers_to,
    version,
    versioned,
)
from app.store.table_types import metadata

organizations = Table(
    "organizations",
    metadata,
    own_id(ORGANIZATION_ID),
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    organization("parent_id", nullable=True),
    Column("function", String(32), nullable=True),
    # A Norwegian unit's service (tjenestetype, Volven 8663): PLO messages are addressed by it.
    Column("service_code", String(16), nullable=True),
    *versioned(),
    Index(None, "parent_id"),
    Index(None, "kind", "jurisdiction"),
)

organization_identifiers = Table(
    "organization_identifiers",
    metadata,
    organization("organization_id", primary_key=True),
    Column("system", String(200), primary_key=True),
    Column("value", String(100), nullable=False),
    UniqueConstraint("system", "value"),
)

cooperation_areas = Table(
    "cooperation_areas",
    metadata,
    own_id(ORGANIZATION_ID),
    Column("name", String(200), nullable=False),
    organization("region_id"),
    *versioned(),
)

cooperation_area_members = Table(
    "cooperation_area_members",
    metadata,
    Column("area_id", String(64), ForeignKey("cooperation_areas.id"), primary_key=True),
    organization("municipality_id", primary_key=True),
    Index(None, "municipality_id"),
)

persons = Table(
    "persons",
    metadata,
    own_id(),
    *identifier_and_name(),
    Column("birth_date", Date, nullable=True),
    organization("residence_municipality_id"),
    organization("stay_municipality_id", nullable=True),
    Column("protected_identity", Boolean, nullable=False),
    Column("address", Text, nullable=True),
    Column("phone", String(40), nullable=True),
    Column("gender", String(16), nullable=True),
    *versioned(),
    UniqueConstraint("identifier_system", "identifier_value"),
    Index(None, "residence_municipality_id"),
)

# The staff register: practitioners (HSA-id, HPR-nummer) and their roles at organizations.
practitioners = Table(
    "practitioners",
    metadata,
    own_id(),
    *identifier_and_name(),
    Column("jurisdiction", String(2), nullable=False),
    Column("active", Boolean, nullable=False),
    version(),
    instant("created_at"),
    UniqueConstraint("identifier_system", "identifier_value"),
)

practitioner_roles = Table(
    "practitioner_roles",
    metadata,
    own_id(),
    refers_to("practitioner_id", "practitioners"),
    organization("organization_id"),
    Column("principal_id", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("title", String(200), nullable=True),
    Column("active", Boolean, nullable=False),
    version(),
    instant("created_at"),
    Index(None, "practitioner_id"),
    Index(None, "organization_id", "role"),
    Index(None, "principal_id", "role"),
)
