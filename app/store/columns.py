"""Columns that many tables declare alike: a record's own id, a reference to an organization or
to another record, an instant, and the version and timestamps of a versioned record.

Each factory returns a new ``Column`` (a column belongs to one table), spelled exactly as the
tables spelled it before, so the schema the migrations built is the one these describe. A column
that only one or two tables share stays a plain ``Column`` in its table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String

from app.store.table_types import UTCDateTime

RECORD_ID = 36
"""The length of a record's id (a UUID): persons, episodes, plans, messages, documents, …"""

ORGANIZATION_ID = 64
"""The length of an organization's id, and of the ids that may name one (principals, clients)."""


def own_id(length: int = RECORD_ID) -> Column[str]:
    """The table's key ``id``: a record's (36 characters) or, given 64, an organization's or
    another id chosen outside the service."""
    return Column("id", String(length), primary_key=True)


def refers_to(
    name: str, table: str, *, nullable: bool = False, primary_key: bool = False
) -> Column[str]:
    """A column holding a record's id: a foreign key to ``table``'s ``id`` (a record table)."""
    return _reference(name, RECORD_ID, table, nullable=nullable, primary_key=primary_key)


def organization(name: str, *, nullable: bool = False, primary_key: bool = False) -> Column[str]:
    """A column holding an organization's id: a foreign key to ``organizations``."""
    return _reference(
        name, ORGANIZATION_ID, "organizations", nullable=nullable, primary_key=primary_key
    )


def _reference(
    name: str, length: int, table: str, *, nullable: bool, primary_key: bool
) -> Column[str]:
    if primary_key:
        return Column(name, String(length), ForeignKey(f"{table}.id"), primary_key=True)
    return Column(name, String(length), ForeignKey(f"{table}.id"), nullable=nullable)


def instant(name: str, *, nullable: bool = False) -> Column[datetime]:
    """A timestamp, stored in UTC (``UTCDateTime``)."""
    return Column(name, UTCDateTime, nullable=nullable)


def version() -> Column[int]:
    """The record's version: 1 when created, one more with each change (its ETag)."""
    return Column("version", Integer, nullable=False)


def created_and_updated() -> tuple[Column[datetime], Column[datetime]]:
    """``created_at`` and ``updated_at``: when the record was created and its version written."""
    return instant("created_at"), instant("updated_at")


def versioned() -> tuple[Column[int], Column[datetime], Column[datetime]]:
    """``version``, ``created_at`` and ``updated_at``, in that order: a versioned record's."""
    return (version(), *created_and_updated())


def identifier_and_name() -> tuple[Column[str], Column[str], Column[str], Column[str]]:
    """A person's national identifier (``identifier_system``, ``identifier_value``: personnummer,
    fødselsnummer, HSA-id, HPR-nummer) and name (``given_name``, ``family_name``): the patients'
    and the practitioners' alike."""
    return (
        Column("identifier_system", String(200), nullable=False),
        Column("identifier_value", String(40), nullable=False),
        Column("given_name", String(200), nullable=False),
        Column("family_name", String(200), nullable=False),
    )
