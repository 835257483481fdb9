"""AuditEvent: the access log, read-only."""

from __future__ import annotations

from app.domain.errors import NotFound
from app.domain.values import INT4_MAX
from app.fhir.dates import date_test
from app.fhir.mappers import auditevent
from app.fhir.resources.params import SearchQuery
from app.fhir.resources.spec import ID, PATIENT, Found, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import audit as audit_service
from app.store.unit_of_work import UnitOfWork


async def read_auditevent(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    entry = _entry_id(ident)
    if entry is None:
        raise NotFound(f"no AuditEvent with id {ident}")
    return auditevent.to_fhir(await audit_service.get_entry(uow, actor, entry))


def _entry_id(ident: str) -> int | None:
    """The entry an AuditEvent id names (None: it names none)."""
    if not ident.isdigit() or not ident.isascii() or int(ident) > INT4_MAX:
        return None
    return int(ident)


async def search_auditevent(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    entries = [e for e in map(_entry_id, query.ids) if e is not None]
    if query.ids and not entries:
        return [], None
    # date, with any prefix, is the range of moments the entry's time lies in (R4 date search
    # of an instant: [since, before)).
    since = before = None
    written = query.one("date")
    if written is not None:
        when = date_test("date", written)
        since = {"eq": when.low, "ge": when.low, "gt": when.high}.get(when.prefix)
        before = {"eq": when.high, "lt": when.low, "le": when.high}.get(when.prefix)
    # patient and agent are searched one value at a time (ResourceSpec.single): the log is
    # read with each one's own access check.
    agent = query.references("agent", "Organization")
    person = query.subjects()
    page = await audit_service.search_access_log(
        uow,
        actor,
        limit=query.count,
        cursor=query.cursor,
        person_id=person[0] if person else None,
        organization_id=agent[0] if agent else None,
        since=since,
        before=before,
        ids=entries,
    )
    return [auditevent.to_fhir(e) for e in page.items], page.next_cursor


SPEC = ResourceSpec(
    read_auditevent,
    search_auditevent,
    (
        ID,
        PATIENT,
        SearchParam("agent", "reference", "the organization that accessed (own only)"),
        SearchParam("date", "date", "when the access was recorded; eq, gt, ge, lt, le prefixes"),
    ),
    single=frozenset({"patient", "agent"}),
    documentation="The access log, read-only: the caller's own organization's entries; "
    "by patient, with the scope samverkan/log-extract, the person's complete extract (the "
    "caller must be a party to a record about the person).",
)
