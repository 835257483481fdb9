"""The read model: covered resources' FHIR JSON, stored with each version (issue 20).

A repository that stores a version of a covered record (``PlanRepository``: a CarePlan) hands
the domain object to ``ProjectionRepository.keep``, which maps it with the projector the FHIR
edge made (``app.fhir.projections``, connected at start-up by ``app.wiring``) and upserts its
row in the same transaction, so a projection is never behind the record it shows. The store
knows no FHIR: a projector is a function from the domain object to a ``Projection`` (the bytes
and the keys the read needs), with the version of the mapper that wrote it.

A read takes a projection only when it shows the record's current version and was written by the
current mapper (``CheckedReads.stored``); otherwise it maps the record as before.
``samverkan projections rebuild`` (``ProjectionRepository.rebuild``) rewrites the projections a
mapper change left behind, and those of records written by a path that stores no projection
(the benchmark's bulk load, rows from before migration 0025).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.parties import RecordType
from app.domain.projections import CAREPLAN, Projection, Projector
from app.store import tables as t
from app.store.plans import plan_from

pr = t.fhir_projections


@dataclass(frozen=True, slots=True)
class Source:
    """Where a covered type's records are: their kind (whose parties decide who reads them),
    their table (its ``id`` the resource's, its ``version`` the resource's) and the domain
    object of a row."""

    record_type: RecordType
    table: Table
    record: Callable[[Any], Any]


def _plan(row: Any) -> Any:
    return plan_from(row, row.document, row.version, row.status)


# The covered types' records. A type is served from projections once its projector is connected.
SOURCES: dict[str, Source] = {CAREPLAN: Source(RecordType.PLAN, t.plans, _plan)}

_projectors: dict[str, Projector] = {}


def connect(resource_type: str, projector: Projector) -> None:
    """Make ``resource_type``'s projections with ``projector`` (called at start-up)."""
    assert resource_type in SOURCES, f"{resource_type} has no source table"
    _projectors[resource_type] = projector


def projector_of(resource_type: str) -> Projector | None:
    """The connected projector of ``resource_type`` (None: the type is not covered)."""
    return _projectors.get(resource_type)


def covered() -> tuple[str, ...]:
    """The types whose projections are kept."""
    return tuple(_projectors)


def _row(projection: Projection, mapper_version: int) -> dict[str, Any]:
    return {
        "resource_type": projection.resource_type,
        "resource_id": projection.resource_id,
        "record_type": projection.record_type.value,
        "record_id": projection.record_id,
        "person_id": projection.person_id,
        "version": projection.version,
        "mapper_version": mapper_version,
        "body": projection.body,
        "last_updated": projection.last_updated,
    }


_KEPT = ("record_type", "record_id", "person_id", "version", "mapper_version", "body")


class ProjectionRepository:
    """The projections of covered resources."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def keep(self, resource_type: str, records: Sequence[Any]) -> None:
        """Store the projections of ``records`` (domain objects of ``resource_type`` at their
        current version), over any earlier ones: one statement. Nothing when the type is not
        covered."""
        projector = _projectors.get(resource_type)
        if projector is None or not records:
            return
        await self._upsert(projector.mapper_version, (projector.project(r) for r in records))

    async def _upsert(self, mapper_version: int, projections: Iterable[Projection]) -> None:
        rows = [_row(p, mapper_version) for p in projections]
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(pr).values(rows)
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[pr.c.resource_type, pr.c.resource_id],
                set_={
                    **{name: statement.excluded[name] for name in _KEPT},
                    "last_updated": statement.excluded.last_updated,
                },
            )
        )

    async def rebuild(
        self, resource_type: str, *, after: str | None, limit: int, every: bool = False
    ) -> tuple[int, str | None]:
        """Rewrite the next ``limit`` projections of ``resource_type`` after the record id
        ``after`` that are missing or stale (another version, another mapper version; ``every``:
        all of them): how many were written, and the id to continue after (None: done)."""
        projector = _projectors[resource_type]
        source = SOURCES[resource_type]
        table = source.table
        query = (
            select(table)
            .outerjoin(
                pr, and_(pr.c.resource_type == resource_type, pr.c.resource_id == table.c.id)
            )
            .order_by(table.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(table.c.id > after)
        if not every:
            query = query.where(
                or_(
                    pr.c.resource_id.is_(None),
                    pr.c.version != table.c.version,
                    pr.c.mapper_version != projector.mapper_version,
                )
            )
        rows = (await self._conn.execute(query)).all()
        if not rows:
            return 0, None
        await self.keep(resource_type, [source.record(row) for row in rows])
        return len(rows), rows[-1].id if len(rows) == limit else None

    async def stored(self, resource_type: str, resource_id: str) -> tuple[int, int, bytes] | None:
        """The stored projection's version, mapper version and bytes (None: none stored)."""
        row = (
            await self._conn.execute(
                select(pr.c.version, pr.c.mapper_version, pr.c.body).where(
                    pr.c.resource_type == resource_type, pr.c.resource_id == resource_id
                )
            )
        ).first()
        return None if row is None else (row.version, row.mapper_version, bytes(row.body))


__all__ = [
    "SOURCES",
    "ProjectionRepository",
    "Source",
    "connect",
    "covered",
    "projector_of",
]
