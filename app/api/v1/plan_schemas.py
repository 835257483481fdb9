"""The shapes of the plans API: a plan's content, consents and withdrawals, and the plan read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.domain.plans import (
    Basis,
    BasisKind,
    Consent,
    ConsentGiver,
    ConsentMethod,
    Goal,
    InitiatorKind,
    OtherContribution,
    Plan,
    PlanStatus,
)
from app.domain.representatives import Representative, RepresentativeRole
from app.http.shapes import command, shaped
from app.http.values import Day, Instant
from app.services import plans as service

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
    target_date: Day | None = None


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
    start_date: Day | None = None
    planned_end_date: Day | None = None
    follow_up_dates: list[Day] = Field(default_factory=list, max_length=50)
    basis: list[BasisIn] = Field(default_factory=list, max_length=10)
    episode_id: str | None = Field(
        default=None, max_length=36, description="the episode (hospital stay) the plan follows"
    )


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


class RepresentativeIn(BaseModel):
    """A legal representative: who, and on what ground they act."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    role: RepresentativeRole | None = Field(
        default=None,
        description="guardian (vårdnadshavare, foresatt), trustee (god man), administrator "
        "(förvaltare) or adult-guardian (verge)",
    )


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
                },
                {
                    "given_by": "legal-representative",
                    "given_at": "2026-03-09T14:00:00+01:00",
                    "method": "written",
                    "share_with": ["kommun-0880", "region-kalmar"],
                    "representatives": [
                        {"name": "Maria Ek", "role": "guardian"},
                        {"name": "Johan Ek", "role": "guardian"},
                    ],
                },
            ]
        },
    )

    given_by: ConsentGiver
    given_at: Instant
    method: ConsentMethod
    share_with: list[str] = Field(
        min_length=1, max_length=20, description="principals the plan may be shared with"
    )
    representative_name: str | None = Field(
        default=None,
        max_length=200,
        description="one representative's name (use `representatives` to record their role, "
        "or several)",
    )
    representatives: list[RepresentativeIn] = Field(
        default_factory=list,
        max_length=4,
        description="with given_by legal-representative: every representative who consented "
        "(a child's two guardians)",
    )


def representatives_of(body: ConsentCreate) -> tuple[Representative, ...]:
    """The representatives a consent names."""
    return tuple(Representative(r.name, r.role) for r in body.representatives)


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
    representatives: list[RepresentativeIn] = Field(
        description="every representative who consented, when a representative did"
    )
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
    episode_id: str | None
    consents: list[ConsentRead]
    withdrawals: list[WithdrawalRead]
    shared_with: list[str] = Field(description="principals that see the plan now")
    sharing_withdrawn: list[SharingWithdrawn] = Field(
        description="principals the person withdrew consent for: they no longer see the plan"
    )
    created_at: datetime
    updated_at: datetime | None


def plan_read(plan: Plan) -> PlanRead:
    """The API shape of a plan: the plan, and its content at this version."""
    return shaped(
        PlanRead,
        plan,
        plan.content,
        initiated_by=plan.initiator,
        initiating_organization_id=plan.initiator.organization_id,
        consents=[_consent_read(c) for c in plan.consents],
        shared_with=sorted(plan.sharing_principals()),
        sharing_withdrawn=[
            SharingWithdrawn(principal_id=p, since=at) for p, at in plan.withdrawn_principals()
        ],
    )


def _consent_read(consent: Consent) -> ConsentRead:
    # The representative's name the consent gave, else its first representative's.
    name = consent.representative_name or next((r.name for r in consent.representatives), None)
    return shaped(
        ConsentRead,
        consent,
        representative_name=name,
        representatives=consent.consenting_representatives,
    )


def content_input(body: PlanContentIn) -> service.ContentInput:
    """The service's view of a plan's content."""
    coordinator = body.coordinator
    return command(
        service.ContentInput,
        body,
        goals=tuple(command(Goal, g) for g in body.goals),
        resources=tuple(body.resources),
        needs=tuple(body.needs),
        interventions=tuple(command(service.InterventionInput, i) for i in body.interventions),
        others=tuple(command(OtherContribution, o) for o in body.others),
        coordinator=None if coordinator is None else command(service.CoordinatorInput, coordinator),
        follow_up_dates=tuple(body.follow_up_dates),
        basis=tuple(command(Basis, b) for b in body.basis),
    )
