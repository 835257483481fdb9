"""Coordinated individual plans (SIP / individuell plan): content, consent, lifecycle, versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Path, Query, Request, Response
from pydantic import BaseModel

from app.api.v1.common import (
    IfMatch,
    ListPage,
    RequiredIfMatch,
    page_of,
    parse_if_match,
    router,
    version_tag,
)
from app.api.v1.plan_schemas import (
    ConsentCreate,
    CoordinatorRead,
    PlanContentIn,
    PlanCreate,
    PlanRead,
    StatusChange,
    WithdrawalCreate,
    content_input,
    plan_read,
    representatives_of,
)
from app.domain.plans import Plan, PlanStatus
from app.domain.values import INT4_MAX
from app.http.deps import (
    CarePlanCreator,
    CarePlanReader,
    CarePlanSearcher,
    CarePlanUpdater,
    NowDep,
    PageDep,
    UowDep,
)
from app.http.errors import errors_for
from app.http.values import Day
from app.security.access import Actor
from app.services import plans as service
from app.store.unit_of_work import UnitOfWork

api = router("/api/v1", "plans")


def _answer(plan: Plan, response: Response) -> PlanRead:
    response.headers["ETag"] = version_tag(plan.version)
    return plan_read(plan)


WRITE_ERRORS = errors_for(404, 409, 412, 415, 422)


@api.post("/plans", status_code=201, response_model=PlanRead, responses=errors_for(415, 422))
async def create_plan(
    actor: CarePlanCreator,
    body: PlanCreate,
    uow: UowDep,
    now: NowDep,
    request: Request,
    response: Response,
) -> PlanRead:
    """Initiate a plan for a person, as a draft."""
    plan = await service.create_plan(
        uow,
        actor,
        body.person_id,
        body.initiated_by.kind,
        body.initiated_by.name,
        content_input(body),
        now=now,
    )
    response.headers["Location"] = str(request.url_for("get_plan", plan_id=plan.id))
    return _answer(plan, response)


@api.get("/plans", response_model=ListPage[PlanRead], responses=errors_for(422))
async def list_plans(
    actor: CarePlanSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    person_id: str | None = None,
    status: PlanStatus | None = None,
) -> dict[str, object]:
    """List the plans shared with the caller's principal."""
    result = await service.list_plans(
        uow, actor, limit=page.limit, after=page.cursor, person_id=person_id, status=status
    )
    return page_of(request, result.items, result.next_cursor, plan_read)


class OverdueRead(BaseModel):
    """A follow-up date of an active plan that passed without a meeting."""

    plan_id: str
    person_id: str
    follow_up_date: date
    days_overdue: int
    responsible_principal_id: str | None
    coordinator: CoordinatorRead | None


@api.get(
    "/plans/overdue-follow-ups",
    response_model=list[OverdueRead],
    responses=errors_for(422),
)
async def list_overdue_follow_ups(
    actor: CarePlanSearcher,
    uow: UowDep,
    now: NowDep,
    responsible_principal_id: str | None = None,
    as_of: Annotated[
        Day | None,
        Query(description="default: today in the plan's time zone (Europe/Stockholm or Oslo)"),
    ] = None,
) -> list[OverdueRead]:
    """List the follow-ups of the caller's active plans that passed without a meeting."""
    found = await service.overdue(
        uow, actor, now=now, as_of=as_of, responsible_principal_id=responsible_principal_id
    )
    return [
        OverdueRead(
            plan_id=plan.id,
            person_id=plan.person_id,
            follow_up_date=late.follow_up_date,
            days_overdue=late.days_overdue,
            responsible_principal_id=plan.content.responsible_principal_id,
            coordinator=plan_read(plan).coordinator,
        )
        for plan, late in found
    ]


@api.get("/plans/{plan_id}", response_model=PlanRead, responses=errors_for(404))
async def get_plan(
    actor: CarePlanReader, plan_id: str, uow: UowDep, response: Response
) -> PlanRead:
    """Read a plan at its current version."""
    return _answer(await service.get_plan(uow, actor, plan_id), response)


@api.put(
    "/plans/{plan_id}",
    response_model=PlanRead,
    responses={**WRITE_ERRORS, **errors_for(428)},
)
async def revise_plan(
    actor: CarePlanUpdater,
    plan_id: str,
    body: PlanContentIn,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: RequiredIfMatch,
) -> PlanRead:
    """Revise a plan (e.g. at a follow-up): a new version; `If-Match` is required."""
    plan = await service.revise_plan(
        uow, actor, plan_id, content_input(body), if_match=parse_if_match(if_match), now=now
    )
    return _answer(plan, response)


class VersionRead(BaseModel):
    """One version of a plan."""

    version: int
    status: PlanStatus
    recorded_at: datetime
    organization_id: str


@api.get("/plans/{plan_id}/versions", response_model=list[VersionRead], responses=errors_for(404))
async def list_plan_versions(actor: CarePlanReader, plan_id: str, uow: UowDep) -> list[VersionRead]:
    """List every version of a plan, oldest first."""
    _plan, versions = await service.plan_history(uow, actor, plan_id)
    return [
        VersionRead(version=v, status=PlanStatus(s), recorded_at=at, organization_id=org)
        for v, s, at, org in versions
    ]


@api.get("/plans/{plan_id}/versions/{version}", response_model=PlanRead, responses=errors_for(404))
async def get_plan_version(
    actor: CarePlanReader,
    plan_id: str,
    version: Annotated[int, Path(ge=1, le=INT4_MAX)],
    uow: UowDep,
    response: Response,
) -> PlanRead:
    """Read a plan as it was at one version."""
    return _answer(await service.plan_version(uow, actor, plan_id, version), response)


@api.post(
    "/plans/{plan_id}/consents", status_code=201, response_model=PlanRead, responses=WRITE_ERRORS
)
async def record_consent(
    actor: CarePlanUpdater,
    plan_id: str,
    body: ConsentCreate,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    """Record the person's consent and the principals the plan may be shared with."""
    plan, _consent = await service.add_consent(
        uow,
        actor,
        plan_id,
        given_by=body.given_by,
        given_at=body.given_at,
        method=body.method,
        share_with=tuple(body.share_with),
        representative_name=body.representative_name,
        representatives=representatives_of(body),
        if_match=parse_if_match(if_match),
        now=now,
    )
    return _answer(plan, response)


@api.post(
    "/plans/{plan_id}/consents/{consent_id}/withdrawal",
    response_model=PlanRead,
    responses=WRITE_ERRORS,
)
async def withdraw_consent(
    actor: CarePlanUpdater,
    plan_id: str,
    consent_id: str,
    body: WithdrawalCreate,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    """Record a withdrawal of consent; sharing with the named principals (or all) stops."""
    plan = await service.withdraw_consent(
        uow,
        actor,
        plan_id,
        consent_id,
        at=body.at,
        principal_ids=tuple(body.principal_ids),
        if_match=parse_if_match(if_match),
        now=now,
    )
    return _answer(plan, response)


async def _status(
    actor: Actor,
    plan_id: str,
    to: PlanStatus,
    body: StatusChange,
    uow: UnitOfWork,
    now: datetime,
    response: Response,
    if_match: str | None,
) -> PlanRead:
    plan = await service.change_status(
        uow, actor, plan_id, to, reason=body.reason, if_match=parse_if_match(if_match), now=now
    )
    return _answer(plan, response)


def _status_route(verb: str, to: PlanStatus, doc: str) -> None:
    """The route ``POST /plans/{plan_id}/<verb>``, moving the plan to ``to``; named
    ``<verb>_plan`` (its operation id) and described by ``doc``."""

    async def change_status(
        actor: CarePlanUpdater,
        plan_id: str,
        body: StatusChange,
        uow: UowDep,
        now: NowDep,
        response: Response,
        if_match: IfMatch = None,
    ) -> PlanRead:
        return await _status(actor, plan_id, to, body, uow, now, response, if_match)

    change_status.__name__ = change_status.__qualname__ = f"{verb}_plan"
    change_status.__doc__ = doc
    api.post(f"/plans/{{plan_id}}/{verb}", response_model=PlanRead, responses=WRITE_ERRORS)(
        change_status
    )


_status_route(
    "activate",
    PlanStatus.ACTIVE,
    "Activate a draft; the refusal lists every missing element at once.",
)
_status_route("complete", PlanStatus.COMPLETED, "Complete an active plan.")
_status_route(
    "cancel", PlanStatus.CANCELLED, "Cancel a draft or active plan (a reason is required)."
)
