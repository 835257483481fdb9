"""Consent: consents to plans, withdrawals as deny provisions."""

from __future__ import annotations

from app.domain.errors import NotFound
from app.domain.plans import Plan
from app.fhir.mappers import consent
from app.fhir.resources.params import SearchQuery, parents, plans_of
from app.fhir.resources.spec import ID, PATIENT, Found, Resource, ResourceSpec
from app.security.access import Actor
from app.services import plans as plan_service
from app.store.unit_of_work import UnitOfWork


def _consent_of(plan: Plan, ident: str, index: str) -> Resource:
    if not (index.isascii() and index.isdigit()) or int(index) >= len(plan.consents):
        raise NotFound(f"no consent with id {ident} (in version {plan.version} of its plan)")
    return consent.to_fhir(plan, int(index))


async def read_consent(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    plan_id, _sep, index = ident.rpartition(".")
    return _consent_of(await plan_service.get_plan(uow, actor, plan_id or ident), ident, index)


async def vread_consent(uow: UnitOfWork, actor: Actor, ident: str, version: int) -> Resource:
    """The consent as the plan's version ``version`` recorded it (with the withdrawals made by
    then): a consent is versioned with its plan."""
    plan_id, _sep, index = ident.rpartition(".")
    plan = await plan_service.plan_version(uow, actor, plan_id or ident, version)
    return _consent_of(plan, ident, index)


async def search_consent(uow: UnitOfWork, actor: Actor, query: SearchQuery) -> Found:
    """The consents of a page of plans (a page is of plans, each with its consents); ``_id``
    names consents, read in the plans it names."""
    plans, next_cursor = await plans_of(uow, actor, query, ids=parents(query))
    found = [consent.to_fhir(p, i) for p in plans for i in range(len(p.consents))]
    return [r for r in found if not query.ids or r["id"] in query.ids], next_cursor


SPEC = ResourceSpec(
    read_consent,
    search_consent,
    (ID, PATIENT),
    vread=vread_consent,
    documentation="Consents to plans, with withdrawals as deny provisions; a consent's version "
    "is its plan's, and every version of the plan that recorded it is readable.",
    parts=True,
)
