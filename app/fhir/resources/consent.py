"""Consent: consents to plans, withdrawals as deny provisions."""

from __future__ import annotations

from app.domain.errors import NotFound
from app.fhir.mappers import consent
from app.fhir.resources.params import by_id, subject_of
from app.fhir.resources.spec import ID, PATIENT, Found, Resource, ResourceSpec
from app.security.access import Actor
from app.services import plans as plan_service
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork


async def read_consent(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    plan_id, _sep, index = ident.rpartition(".")
    plan = await plan_service.get_plan(uow, actor, plan_id or ident)
    if not (index.isascii() and index.isdigit()) or int(index) >= len(plan.consents):
        raise NotFound(f"no consent with id {ident}")
    return consent.to_fhir(plan, int(index))


async def search_consent(
    uow: UnitOfWork,
    actor: Actor,
    params: dict[str, str],
    count: int,
    cursor: str | None,
    settings: Settings,
) -> Found:
    if "_id" in params:
        return await by_id(read_consent, uow, actor, params["_id"])
    page = await plan_service.list_plans(
        uow, actor, limit=count, after=cursor, person_id=subject_of(params), status=None
    )
    found = [consent.to_fhir(p, i) for p in page.items for i in range(len(p.consents))]
    return found, page.next_cursor


SPEC = ResourceSpec(
    read_consent,
    search_consent,
    (ID, PATIENT),
    documentation="Consents to plans, with withdrawals as deny provisions.",
)
