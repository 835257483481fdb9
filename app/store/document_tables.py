"""The tables of documents and planning-basis answers, on the shared ``metadata`` so that Alembic
and the schema check see them (store modules read them as ``dt``; ``tables`` does not gather
them)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from app.store.columns import instant, organization, own_id, refers_to
from app.store.table_types import metadata

# A document's description. It is attached to one record (``record_type``, ``record_id``), whose
# parties are the document's; the indexes find a record's documents and a person's.
documents = Table(
    "documents",
    metadata,
    own_id(),
    Column("record_type", String(16), nullable=False),
    Column("record_id", String(36), nullable=False),
    refers_to("person_id", "persons", nullable=True),
    Column("type", String(40), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", String(1000), nullable=True),
    Column("content_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    organization("author_id"),
    instant("created_at"),
    Index(None, "record_type", "record_id", "id"),
    Index(None, "person_id", "id"),
)

# The bytes, one row per document: the part an object store would take over.
document_contents = Table(
    "document_contents",
    metadata,
    refers_to("document_id", "documents", primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# Answers to the planning-basis questionnaire, given with a notice (``seq``) of an episode.
planning_bases = Table(
    "planning_bases",
    metadata,
    own_id(),
    refers_to("episode_id", "episodes"),
    refers_to("person_id", "persons"),
    Column("notice", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("questionnaire_version", String(16), nullable=False),
    organization("author_id"),
    instant("authored_at"),
    Column("answers", JSON, nullable=False),
    Index(None, "episode_id", "seq"),
    Index(None, "person_id", "id"),
)
