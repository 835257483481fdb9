"""The read model's use cases: a covered resource read from its stored projection, and the
rebuild of projections after a mapper changed (issue 20; ``app.store.projections``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from app.domain.access_log import AccessEntry
from app.security.access import Actor, access_entry, require_party
from app.store.projections import SOURCES, covered, projector_of
from app.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Stored:
    """A resource's FHIR JSON as stored, with its version and ``meta.lastUpdated``."""

    body: bytes
    version: int
    last_updated: datetime | None


async def read_stored(
    uow: UnitOfWork, actor: Actor, resource_type: str, resource_id: str
) -> Stored | None:
    """The resource's stored JSON, if the caller is a party to its record (404 and a log entry
    otherwise), checked and logged as every read is: on PostgreSQL by the read's one statement.

    None when the type is not covered, or no projection of the record's current version by the
    current mapper is stored (the record does not exist, or was not projected yet): the caller
    then reads the record and maps it, which also refuses a record that does not exist.
    """
    projector = projector_of(resource_type)
    if projector is None:
        return None
    entry = (
        access_entry(actor, "read", resource_type, resource_id, None)
        if uow.logs_with_statement
        else None
    )
    row = await uow.checked.stored(
        resource_type, resource_id, actor.reach, entry, projector.mapper_version
    )
    if row is None:
        return None
    if entry is not None and row.logged:
        uow.logged_access.append(replace(entry, person_id=row.person_id))
    else:
        record_type = SOURCES[resource_type].record_type
        await require_party(
            uow,
            actor,
            record_type,
            resource_id,
            exists=True,
            person_id=row.person_id,
            action="read",
            resource_type=resource_type,
            kind=record_type.value,
            within=bool(row.within),
        )
    return Stored(bytes(row.body), row.version, row.last_updated)


async def stored_for(
    uow: UnitOfWork, actor: Actor, resource_type: str, resource_id: str
) -> tuple[Stored, AccessEntry] | None:
    """The resource's stored JSON when the caller is a party to its record, with the read's
    access-log entry, which the caller must have written before it sends the JSON
    (``app.fhir.fast_read``): one statement, which writes nothing.

    None, with nothing logged, in every other case (the type is not covered, no current
    projection, the caller is no party): ``read_stored`` and the mapped read answer those.
    """
    projector = projector_of(resource_type)
    if projector is None:
        return None
    row = await uow.checked.stored(
        resource_type, resource_id, actor.reach, None, projector.mapper_version
    )
    if row is None or not row.within:
        return None
    entry = access_entry(actor, "read", resource_type, resource_id, row.person_id)
    return Stored(bytes(row.body), row.version, row.last_updated), entry


def covered_types() -> tuple[str, ...]:
    """The resource types whose projections are kept."""
    return covered()


async def rebuild(
    uow: UnitOfWork, resource_type: str, *, after: str | None, limit: int, every: bool
) -> tuple[int, str | None]:
    """Rewrite the next ``limit`` missing or stale projections of ``resource_type`` (``every``:
    all) after the record id ``after``: how many, and where to go on (None: done)."""
    return await uow.projections.rebuild(resource_type, after=after, limit=limit, every=every)
