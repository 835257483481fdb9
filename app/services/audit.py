"""Reading the access log: an organization's own log follow-up (HSLF-FS 2016:40 4:9), and the
complete extract for one person (the patient's right: patientdatalagen 8:6, pasientjournalloven
§ 18).

Each organization reads the entries of accesses made within its reach: a unit-level client those
made for its unit, a principal-level client those of its principal (or, naming a unit, that
unit's and its principal's own). The complete extract for one person, every organization's
entries, needs the scope ``samverkan/log-extract`` and a caller that is a party to a record about
the person (anyone else is told the person does not exist). Reading the log is itself logged for
each person it names.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from app.domain.access_log import AccessEntry
from app.domain.errors import Forbidden, NotFound
from app.domain.parties import Reach
from app.domain.values import parse_int
from app.security.access import Actor, not_found, record
from app.security.scopes import LOG_EXTRACT_SCOPE
from app.store.paging import Page
from app.store.unit_of_work import UnitOfWork


def made_within(entry: AccessEntry, reach: Reach) -> bool:
    """Whether the entry records an access made within the reach (an entry made for no unit
    is its principal's own)."""
    if reach.principal_id is not None:
        return entry.principal_id == reach.principal_id
    return entry.unit_id in reach.organizations or (
        entry.unit_id is None and entry.principal_id in reach.organizations
    )


def _redacted(entry: AccessEntry) -> AccessEntry:
    # A refused access names neither person nor resource in an organization's own view: the
    # entry must not tell it whether the id it tried exists, nor what that record concerns. The
    # person's extract shows it in full.
    if entry.outcome == "denied":
        return replace(entry, person_id=None, resource_id=None)
    return entry


async def search_access_log(
    uow: UnitOfWork,
    auditor: Actor,
    *,
    limit: int,
    cursor: str | None,
    person_id: str | None,
    organization_id: str | None,
    since: datetime | None,
    newest_first: bool = False,
    before: datetime | None = None,
    ids: Collection[int] = (),
) -> Page[AccessEntry]:
    """The caller's own entries (about one person, with ``person_id``), oldest first (or, for a
    history, ``newest_first``); with the log-extract scope, ``person_id`` gives every
    organization's entries about the person."""
    if organization_id is not None:
        principals = await uow.parties.principals([organization_id])
        if not auditor.reach.matches(organization_id, principals.get(organization_id, "")):
            raise Forbidden(
                f"an auditor acting for {auditor.acting_id} reads the access log of its own "
                f"organization, not of {organization_id}",
                field="organization_id",
            )
    extract = person_id is not None and LOG_EXTRACT_SCOPE in auditor.scopes
    if person_id is not None and not await uow.parties.person_within(person_id, auditor.reach):
        exists = await uow.persons.get(person_id) is not None
        outcome = "denied"
        record(uow, auditor, "search", "AuditEvent", None, person_id if exists else None, outcome)
        raise not_found("person", person_id)
    position = (
        parse_int(cursor, "cursor", what="cursor is not one this list gave out")
        if cursor is not None
        else None
    )
    result = await uow.access_log.page(
        limit=limit,
        after=None if newest_first else position,
        until=position if newest_first else None,
        newest_first=newest_first,
        person_id=person_id,
        organization_id=organization_id,
        made_by=None if extract else auditor.reach,
        since=since,
        before=before,
        ids=ids,
    )
    items = result.items if extract else [_redacted(e) for e in result.items]
    # Reading who accessed whom is itself an access to each person named (the person searched
    # for, even when nothing was found).
    named = {e.person_id for e in items if e.person_id} | ({person_id} if person_id else set())
    for person in sorted(named):
        record(uow, auditor, "search", "AuditEvent", None, person)
    return Page(items, result.next_cursor)


async def get_entry(uow: UnitOfWork, auditor: Actor, entry_id: int) -> AccessEntry:
    """One entry: made within the caller's reach, or (with the log-extract scope) about a person
    the caller is a party to a record of."""
    entry = await uow.access_log.get(entry_id)
    own = entry is not None and made_within(entry, auditor.reach)
    extract = (
        entry is not None
        and entry.person_id is not None
        and LOG_EXTRACT_SCOPE in auditor.scopes
        and await uow.parties.person_within(entry.person_id, auditor.reach)
    )
    if entry is None or not (own or extract):
        record(uow, auditor, "read", "AuditEvent", str(entry_id), None, outcome="denied")
        raise NotFound(f"no access-log entry with id {entry_id}")
    if not extract:
        entry = _redacted(entry)
    record(uow, auditor, "read", "AuditEvent", str(entry_id), entry.person_id)
    return entry
