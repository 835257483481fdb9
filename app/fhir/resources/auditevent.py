"""AuditEvent: the access log, read-only."""

from __future__ import annotations

from datetime import timedelta

from app.domain.errors import NotFound
from app.domain.values import INT4_MAX
from app.fhir.dates import NEVER, date_test, moment
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


# How long after an access its entry may still be written (the request's duration, at most).
LOG_SETTLED = timedelta(minutes=5)


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
    # date, with any prefix: the log is read from the earliest moment the test allows (it is
    # kept oldest first), and each entry's time is compared with it.
    when = date_test("date", params["date"]) if "date" in params else None
    since = None
    if when is not None and when.prefix in ("eq", "ge", "gt"):
        since = when.high if when.prefix == "gt" else when.low
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
    found = [auditevent.to_fhir(e) for e in page.items]
    next_cursor = page.next_cursor
    if when is not None:
        moments = [moment(r["recorded"], NEVER) for r in found]
        found = [r for r, at in zip(found, moments, strict=True) if when.matches(at, at)]
        # Entries are numbered about in the order they are made: well past the latest moment
        # the test allows (more than any request lasts), no later page can match.
        if when.prefix not in ("gt", "ge") and moments and max(moments) > when.high + LOG_SETTLED:
            next_cursor = None
    return found, next_cursor


SPEC = ResourceSpec(
    read_auditevent,
    search_auditevent,
    (
        ID,
        PATIENT,
        SearchParam("agent", "reference", "the organization that accessed (own only)"),
        SearchParam("date", "date", "when the access was recorded; eq, gt, ge, lt, le prefixes"),
    ),
    documentation="The access log, read-only: the caller's own organization's entries; "
    "by patient, with the scope samverkan/log-extract, the person's complete extract (the "
    "caller must be a party to a record about the person).",
)
