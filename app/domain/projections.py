"""The read model's unit: one resource's FHIR JSON as stored with its version (issue 20).

The store keeps projections (``app.store.projections``); the FHIR edge makes them
(``app.fhir.projections``); ``app.wiring`` connects the one to the other at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.parties import RecordType

# The covered types, as the access log and FHIR name them.
CAREPLAN = "CarePlan"


@dataclass(frozen=True, slots=True)
class Projection:
    """One resource's stored FHIR JSON and what its read needs: the record whose parties
    decide who reads it, the person it is about, its version and ``meta.lastUpdated``."""

    resource_type: str
    resource_id: str
    record_type: RecordType
    record_id: str
    person_id: str | None
    version: int
    last_updated: datetime | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Projector:
    """How a covered type's projection is made from its domain object, and the version of the
    mapper that makes it (raised whenever the mapper's output changes)."""

    mapper_version: int
    project: Callable[[Any], Projection]
