"""AuditEvent: the access log, read-only."""

from __future__ import annotations

from app.domain.errors import InvalidInput, NotFound
from app.domain.values import INT4_MAX
from app.fhir.dates import date_test
from app.fhir.mappers import auditevent
from app.fhir.resources.params import by_id, reference_id, subject_of
from app.fhir.resources.spec import ID, PATIENT, Found, Resource, ResourceSpec, SearchParam
from app.security.access import Actor
from app.services import audit as audit_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


async def read_auditevent(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    if not ident.isdigit() or not ident.isascii() or int(ident) > INT4_MAX:
        raise NotFound(f"no AuditEvent with id {ident}")
    return auditevent.to_fhir(await audit_service.get_entry(uow, actor, int(ident)))


async def search_auditevent(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_auditevent, uow, actor, params["_id"])
    since = None
    if "date" in params:
        value = params["date"]
        if not value.startswith("ge"):
            raise InvalidInput("date is searched as geYYYY-MM-DD[Thh:mm:ss+zz:zz]", field="date")
        since = date_test("date", value).low
    agent = reference_id(params["agent"], "Organization", "agent") if "agent" in params else None
    page = await audit_service.search_access_log(
        uow,
        actor,
        limit=count,
        cursor=cursor,
        person_id=subject_of(params),
        organization_id=agent,
        since=since,
    )
    return [auditevent.to_fhir(e) for e in page.items], page.next_cursor


SPEC = ResourceSpec(
    read_auditevent,
    search_auditevent,
    (
        ID,
        PATIENT,
        SearchParam("agent", "reference", "the organization that accessed (own only)"),
        SearchParam("date", "date", "entries at or after (ge…)"),
    ),
    documentation="The access log, read-only: the caller's own organization's entries; "
    "by patient, with the scope samverkan/log-extract, the person's complete extract (the "
    "caller must be a party to a record about the person).",
)
