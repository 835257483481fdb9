"""The read model: each covered resource's FHIR JSON as the mapper wrote it (issue 20).

Declared on the shared ``metadata``; ``app.store.tables`` re-exports it. The domain's tables stay
the truth; a projection is derived from them, written in the transaction that wrote the record's
version (``app.store.projections``), and rebuilt by ``samverkan projections rebuild``."""

from __future__ import annotations

from sqlalchemy import Column, Integer, LargeBinary, String, Table

from app.store.columns import RECORD_ID, instant, version
from app.store.table_types import metadata

# One row per resource: its type and id, the record whose parties decide who reads it (its type,
# as the record-parties name it, and id), the person it is about, the version it shows, the
# version of the mapper that wrote it, the FHIR JSON (orjson bytes) and meta.lastUpdated.
fhir_projections = Table(
    "fhir_projections",
    metadata,
    Column("resource_type", String(32), primary_key=True),
    Column("resource_id", String(64), primary_key=True),
    Column("record_type", String(16), nullable=False),
    Column("record_id", String(RECORD_ID), nullable=False),
    Column("person_id", String(RECORD_ID), nullable=True),
    version(),
    Column("mapper_version", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    instant("last_updated", nullable=True),
)
