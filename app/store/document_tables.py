"""The tables of documents and planning-basis answers, on the shared ``metadata`` so that Alembic
and the schema check see them (store modules read them as ``dt``; ``tables`` does not gather
them)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from app.store.table_types import UTCDateTime, metadata

# A document's description. It is attached to one record (``record_type``, ``record_id``), whose
# parties are the document's; the indexes find a record's documents and a person's.
documents = Table(
    "documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("record_type", String(16), nullable=False),
    Column("record_id", String(36), nullable=False),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=True),
    Column("type", String(40), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", String(1000), nullable=True),
    Column("content_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("author_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "record_type", "record_id", "id"),
    Index(None, "person_id", "id"),
)

# The bytes, one row per document: the part an object store would take over.
document_contents = Table(
    "document_contents",
    metadata,
    Column("document_id", String(36), ForeignKey("documents.id"), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# Answers to the planning-basis questionnaire, given with a notice (``seq``) of an episode.
planning_bases = Table(
    "planning_bases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("episode_id", String(36), ForeignKey("episodes.id"), nullable=False),
    Column("person_id", String(36), ForeignKey("persons.id"), nullable=False),
    Column("notice", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("questionnaire_version", String(16), nullable=False),
    Column("author_id", String(64), ForeignKey("organizations.id"), nullable=False),
    Column("authored_at", UTCDateTime, nullable=False),
    Column("answers", JSON, nullable=False),
    Index(None, "episode_id", "seq"),
    Index(None, "person_id", "id"),
)
