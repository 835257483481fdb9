"""Coordinated individual plans (SIP / individuell plan): content, consent, lifecycle, versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import (
    CarePlanCreator,
    CarePlanReader,
    CarePlanSearcher,
    CarePlanUpdater,
    NowDep,
    PageDep,
    UowDep,
)
from app.api.errors import errors_for
from app.api.v1.common import (
    IfMatch,
    ListPage,
    RequiredIfMatch,
    page_of,
    parse_if_match,
    router,
    version_tag,
)
from app.domain.plans import (
    Basis,
    BasisKind,
    ConsentGiver,
    ConsentMethod,
    Goal,
    InitiatorKind,
    OtherContribution,
    Plan,
    PlanStatus,
)
from app.security.access import Actor
from app.services import plans as service
from app.store.unit_of_work import UnitOfWork

api = router("/api/v1", "plans")

Text = Annotated[str, Field(min_length=1, max_length=2000)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Id = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._\-]+$")]

EXAMPLE_CONTENT: dict[str, Any] = {
    "title": "Samordnad individuell plan för Viola",
    "goals": [
        {"id": "g1", "description": "Bo kvar hemma i villan med makens stöd", "target_date": None}
    ],
    "resources": ["Maken", "Grannen Svea"],
    "needs": ["Stöd med läkemedel och blodsocker", "Trygghet nattetid"],
    "interventions": [
        {
            "id": "i1",
            "description": "Hemsjukvård: insulin och blodsockerkontroll",
            "responsible_unit_id": "kommun-0880-hemsjukvard",
            "frequency": "dagligen",
        },
        {
            "id": "i2",
            "description": "Uppföljning av hjärtsvikt och demens",
            "responsible_unit_id": "region-kalmar-hc-kalmar",
            "frequency": "var tredje månad",
        },
    ],
    "others": [{"who": "Svea", "relation": "granne", "contribution": "Tittar in på kvällen"}],
    "responsible_principal_id": "kommun-0880",
    "coordinator": {"name": "Anna Berg", "unit_id": "kommun-0880-hemsjukvard"},
    "start_date": "2026-03-10",
    "planned_end_date": "2026-12-31",
    "follow_up_dates": ["2026-06-10", "2026-09-10"],
    "basis": [],
}


class GoalIn(BaseModel):
    """One of the person's own goals."""

    model_config = ConfigDict(extra="forbid")

    id: Id
    description: Text
    target_date: date | None = None


class InterventionIn(BaseModel):
    """An intervention and the unit responsible for it."""

    model_config = ConfigDict(extra="forbid")

    id: Id
    description: Text
    responsible_unit_id: str | None = Field(default=None, max_length=64)
    frequency: str | None = Field(default=None, max_length=200)


class OtherIn(BaseModel):
    """What a relative, neighbour or voluntary organization does."""

    model_config = ConfigDict(extra="forbid")

    who: ShortText
    relation: ShortText = Field(examples=["make", "granne", "frivilligorganisation"])
    contribution: Text


class CoordinatorIn(BaseModel):
    """The coordinator, employed at a unit of an involved principal, chosen with the person:
    a coordinator role of the staff register, or a name and unit."""

    model_config = ConfigDict(extra="forbid")

    practitioner_role_id: str | None = Field(
        default=None, max_length=36, description="a `coordinator` role of the staff register"
    )
    name: str = Field(
        default="",
        max_length=200,
        description="the coordinator's name (from the register with a practitioner_role_id)",
    )
    unit_id: str = Field(
        default="",
        max_length=64,
        description="the unit the coordinator works at (from the register with a "
        "practitioner_role_id)",
    )
    title: str | None = Field(default=None, max_length=200)
    chosen_with_person: bool = True


class BasisIn(BaseModel):
    """An existing plan this plan builds on (an LSS plan, a psychiatry case-manager plan)."""

    model_config = ConfigDict(extra="forbid")

    kind: BasisKind
    reference: ShortText
    description: str | None = Field(default=None, max_length=2000)


class PlanContentIn(BaseModel):
    """What a plan says; everything but the title may be filled in over time."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CONTENT]})

    title: ShortText
    goals: list[GoalIn] = Field(default_factory=list, max_length=50)
    resources: list[Text] = Field(default_factory=list, max_length=50)
    needs: list[Text] = Field(default_factory=list, max_length=50)
    interventions: list[InterventionIn] = Field(default_factory=list, max_length=100)
    others: list[OtherIn] = Field(default_factory=list, max_length=50)
    responsible_principal_id: str | None = Field(
        default=None, max_length=64, description="the principal with overall responsibility"
    )
    coordinator: CoordinatorIn | None = None
    start_date: date | None = None
    planned_end_date: date | None = None
    follow_up_dates: list[date] = Field(default_factory=list, max_length=50)
    basis: list[BasisIn] = Field(default_factory=list, max_length=10)


class InitiatedBy(BaseModel):
    """Who saw the need: the calling unit, or the person, a relative or a representative."""

    model_config = ConfigDict(extra="forbid")

    kind: InitiatorKind = InitiatorKind.UNIT
    name: str | None = Field(default=None, max_length=200, description="who asked, if not a unit")


class PlanCreate(PlanContentIn):
    """A new plan (a draft) for a person."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "person_id": "5f0c1a52-8d7e-4b8a-9a7e-2f1d3c4b5a69",
                    "initiated_by": {"kind": "unit"},
                    **EXAMPLE_CONTENT,
                }
            ]
        },
    )

    person_id: str = Field(max_length=36)
    initiated_by: InitiatedBy = Field(default_factory=InitiatedBy)


class ConsentCreate(BaseModel):
    """A consent: who gave it, when, how, and with which principals the plan may be shared."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "given_by": "person",
                    "given_at": "2026-03-09T14:00:00+01:00",
                    "method": "oral",
                    "share_with": ["kommun-0880", "region-kalmar"],
                }
            ]
        },
    )

    given_by: ConsentGiver
    given_at: datetime
    method: ConsentMethod
    share_with: list[str] = Field(
        min_length=1, max_length=20, description="principals the plan may be shared with"
    )
    representative_name: str | None = Field(
        default=None, max_length=200, description="god man, förvaltare, vårdnadshavare, verge"
    )


class WithdrawalCreate(BaseModel):
    """A withdrawal of consent: sharing stops with the named principals, or all if none named."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"at": "2026-05-01T09:00:00+02:00", "principal_ids": ["region-kalmar"]}]
        },
    )

    at: datetime
    principal_ids: list[str] = Field(default_factory=list, max_length=20)


class StatusChange(BaseModel):
    """Why a plan is completed or cancelled."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


class ConsentRead(BaseModel):
    """A recorded consent."""

    id: str
    given_by: ConsentGiver
    given_at: datetime
    method: ConsentMethod
    share_with: list[str]
    representative_name: str | None
    recorded_by: str


class WithdrawalRead(BaseModel):
    """A recorded withdrawal of consent."""

    consent_id: str
    at: datetime
    principal_ids: list[str]
    recorded_by: str


class SharingWithdrawn(BaseModel):
    """A principal the plan is no longer shared with, and since when."""

    principal_id: str
    since: datetime


class InterventionRead(BaseModel):
    """An intervention with its responsible unit and principal."""

    id: str
    description: str
    responsible_unit_id: str | None
    responsible_principal_id: str | None
    frequency: str | None


class CoordinatorRead(BaseModel):
    """The coordinator and where they are employed."""

    name: str
    unit_id: str
    principal_id: str
    title: str | None
    chosen_with_person: bool
    practitioner_role_id: str | None


class PlanRead(BaseModel):
    """A coordinated individual plan at one version."""

    id: str
    person_id: str
    category: str = Field(description="SIP (Sweden) or IP (Norway)")
    status: PlanStatus
    status_reason: str | None
    version: int
    initiated_by: InitiatedBy
    initiating_organization_id: str
    title: str
    goals: list[GoalIn]
    resources: list[str]
    needs: list[str]
    interventions: list[InterventionRead]
    others: list[OtherIn]
    responsible_principal_id: str | None
    coordinator: CoordinatorRead | None
    start_date: date | None
    planned_end_date: date | None
    follow_up_dates: list[date]
    basis: list[BasisIn]
    consents: list[ConsentRead]
    withdrawals: list[WithdrawalRead]
    shared_with: list[str] = Field(description="principals that see the plan now")
    sharing_withdrawn: list[SharingWithdrawn] = Field(
        description="principals the person withdrew consent for: they no longer see the plan"
    )
    created_at: datetime
    updated_at: datetime | None


def plan_read(plan: Plan) -> PlanRead:
    """The API shape of a plan."""
    content = plan.content
    coordinator = content.coordinator
    return PlanRead(
        id=plan.id,
        person_id=plan.person_id,
        category=plan.category,
        status=plan.status,
        status_reason=plan.status_reason,
        version=plan.version,
        initiated_by=InitiatedBy(kind=plan.initiator.kind, name=plan.initiator.name),
        initiating_organization_id=plan.initiator.organization_id,
        title=content.title,
        goals=[
            GoalIn(id=g.id, description=g.description, target_date=g.target_date)
            for g in content.goals
        ],
        resources=list(content.resources),
        needs=list(content.needs),
        interventions=[
            InterventionRead(
                id=i.id,
                description=i.description,
                responsible_unit_id=i.responsible_unit_id,
                responsible_principal_id=i.responsible_principal_id,
                frequency=i.frequency,
            )
            for i in content.interventions
        ],
        others=[
            OtherIn(who=o.who, relation=o.relation, contribution=o.contribution)
            for o in content.others
        ],
        responsible_principal_id=content.responsible_principal_id,
        coordinator=None
        if coordinator is None
        else CoordinatorRead(
            name=coordinator.name,
            unit_id=coordinator.unit_id,
            principal_id=coordinator.principal_id,
            title=coordinator.title,
            chosen_with_person=coordinator.chosen_with_person,
            practitioner_role_id=coordinator.practitioner_role_id,
        ),
        start_date=content.start_date,
        planned_end_date=content.planned_end_date,
        follow_up_dates=list(content.follow_up_dates),
        basis=[
            BasisIn(kind=b.kind, reference=b.reference, description=b.description)
            for b in content.basis
        ],
        consents=[
            ConsentRead(
                id=c.id,
                given_by=c.given_by,
                given_at=c.given_at,
                method=c.method,
                share_with=list(c.share_with),
                representative_name=c.representative_name,
                recorded_by=c.recorded_by,
            )
            for c in plan.consents
        ],
        withdrawals=[
            WithdrawalRead(
                consent_id=w.consent_id,
                at=w.at,
                principal_ids=list(w.principal_ids),
                recorded_by=w.recorded_by,
            )
            for w in plan.withdrawals
        ],
        shared_with=sorted(plan.sharing_principals()),
        sharing_withdrawn=[
            SharingWithdrawn(principal_id=p, since=at) for p, at in plan.withdrawn_principals()
        ],
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


def content_input(body: PlanContentIn) -> service.ContentInput:
    """The service's view of a plan's content."""
    return service.ContentInput(
        title=body.title,
        goals=tuple(Goal(g.id, g.description, g.target_date) for g in body.goals),
        resources=tuple(body.resources),
        needs=tuple(body.needs),
        interventions=tuple(
            service.InterventionInput(i.id, i.description, i.responsible_unit_id, i.frequency)
            for i in body.interventions
        ),
        others=tuple(OtherContribution(o.who, o.relation, o.contribution) for o in body.others),
        responsible_principal_id=body.responsible_principal_id,
        coordinator=None
        if body.coordinator is None
        else service.CoordinatorInput(
            body.coordinator.name,
            body.coordinator.unit_id,
            body.coordinator.title,
            body.coordinator.chosen_with_person,
            body.coordinator.practitioner_role_id,
        ),
        start_date=body.start_date,
        planned_end_date=body.planned_end_date,
        follow_up_dates=tuple(body.follow_up_dates),
        basis=tuple(Basis(b.kind, b.reference, b.description) for b in body.basis),
    )


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
        date | None,
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
    version: Annotated[int, Path(ge=1)],
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


@api.post("/plans/{plan_id}/activate", response_model=PlanRead, responses=WRITE_ERRORS)
async def activate_plan(
    actor: CarePlanUpdater,
    plan_id: str,
    body: StatusChange,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    """Activate a draft; the refusal lists every missing element at once."""
    return await _status(actor, plan_id, PlanStatus.ACTIVE, body, uow, now, response, if_match)


@api.post("/plans/{plan_id}/complete", response_model=PlanRead, responses=WRITE_ERRORS)
async def complete_plan(
    actor: CarePlanUpdater,
    plan_id: str,
    body: StatusChange,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    """Complete an active plan."""
    return await _status(actor, plan_id, PlanStatus.COMPLETED, body, uow, now, response, if_match)


@api.post("/plans/{plan_id}/cancel", response_model=PlanRead, responses=WRITE_ERRORS)
async def cancel_plan(
    actor: CarePlanUpdater,
    plan_id: str,
    body: StatusChange,
    uow: UowDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    """Cancel a draft or active plan (a reason is required)."""
    return await _status(actor, plan_id, PlanStatus.CANCELLED, body, uow, now, response, if_match)
