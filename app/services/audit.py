"""Reading the access log: by person (the patient's right to know who accessed their data) and
by organization (an organization's own log follow-up, HSLF-FS 2016:40 4:9).

An auditor sees its own organization's entries, and every entry about a person its organization
takes part in the care of. Reading the log is itself logged for each person it names.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from app.domain.errors import Forbidden, InvalidInput, NotFound
from app.security.access import Actor, record, require_relation
from app.store.repositories import AccessEntry, Page
from app.store.unit_of_work import UnitOfWork


async def search_access_log(
    uow: UnitOfWork,
    auditor: Actor,
    *,
    limit: int,
    cursor: str | None,
    person_id: str | None,
    organization_id: str | None,
    since: datetime | None,
) -> Page[AccessEntry]:
    """Entries by person or by (the caller's own) organization, oldest first."""
    if organization_id is not None and organization_id not in auditor.organizations:
        raise Forbidden(
            f"an auditor acting for {auditor.organization_id} reads the access log of its own "
            f"organization, not of {organization_id}",
            field="organization_id",
        )
    if person_id is not None:
        await require_relation(
            uow,
            auditor,
            person_id,
            action="search",
            resource_type="AuditEvent",
            resource_id=person_id,
            kind="person",
        )
    elif organization_id is None:
        organization_id = auditor.organization_id
    if cursor is not None and not cursor.isdigit():
        raise InvalidInput("cursor is not one this list gave out", field="cursor")
    result = await uow.access_log.page(
        limit=limit,
        after=int(cursor) if cursor else None,
        person_id=person_id,
        organization_id=organization_id,
        since=since,
    )
    items = result.items
    if person_id is None:
        # A refused access names neither person nor resource here: the organization had no care
        # relation, and the entry must not tell it whether the id it tried exists. The person's
        # caregivers see it in full when they search by person.
        items = [
            replace(e, person_id=None, resource_id=None) if e.outcome == "denied" else e
            for e in items
        ]
        # Reading who-accessed-whom is itself an access to each person named.
        for person in sorted({e.person_id for e in items if e.person_id}):
            record(uow, auditor, "search", "AuditEvent", None, person)
    return Page(items, result.next_cursor)


async def get_entry(uow: UnitOfWork, auditor: Actor, entry_id: int) -> AccessEntry:
    """One entry: of the caller's own organization, or about a person in its care."""
    entry = await uow.access_log.get(entry_id)
    related = False
    if entry is not None and entry.person_id is not None:
        related = await uow.relations.exists(entry.person_id, auditor.organizations, care_only=True)
    if entry is None or not (related or entry.organization_id in auditor.organizations):
        record(uow, auditor, "read", "AuditEvent", str(entry_id), None, outcome="denied")
        raise NotFound(f"no access-log entry with id {entry_id}")
    if not related and entry.outcome == "denied":
        entry = replace(entry, person_id=None, resource_id=None)
    record(uow, auditor, "read", "AuditEvent", str(entry_id), entry.person_id)
    return entry
