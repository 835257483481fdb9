"""Coordinated individual plans: SIP (HSL 16:4, SoL 2:7) and individuell plan (Norway).

A plan is the joint plan of several principals around one person. It holds the person's own goals,
resources and needs; the interventions with the unit responsible for each; what relatives and
others do; the principal with overall responsibility and the coordinator; start, planned end and
follow-up dates; and the plans it builds on (DESIGN §5).

Nothing is shared without the person's consent. Before any consent only the initiating principal
sees the plan; a consent names the principals it may be shared with, and a withdrawal stops sharing
with the principals it names from that moment (all of them, and the plan, when it names none).

Every change makes a new version; earlier versions stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from app.domain.episodes import ZONES
from app.domain.errors import IllegalTransition, Incomplete, InvalidInput, NotFound
from app.domain.representatives import Representative, check_representatives


class PlanStatus(StrEnum):
    """Where a plan is in its life."""

    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class InitiatorKind(StrEnum):
    """Who saw the need for a plan: staff at a unit, or the person or someone close to them."""

    UNIT = "unit"
    PATIENT = "patient"
    RELATIVE = "relative"
    LEGAL_REPRESENTATIVE = "legal-representative"


class ConsentGiver(StrEnum):
    """Who consented: the person, or a legal representative acting for them."""

    PERSON = "person"
    LEGAL_REPRESENTATIVE = "legal-representative"


class ConsentMethod(StrEnum):
    """How the consent was given."""

    ORAL = "oral"
    WRITTEN = "written"
    DIGITAL = "digital"


class BasisKind(StrEnum):
    """An existing plan a coordinated plan builds on."""

    LSS_PLAN = "lss-plan"
    PSYCHIATRY_CASE_MANAGER_PLAN = "psychiatry-case-manager-plan"
    INDIVIDUAL_PLAN = "individual-plan"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Goal:
    """One of the person's own goals."""

    id: str
    description: str
    target_date: date | None = None


@dataclass(frozen=True, slots=True)
class Intervention:
    """An intervention, the unit responsible for it and its principal, what is done, how often."""

    id: str
    description: str
    responsible_unit_id: str | None
    responsible_principal_id: str | None
    frequency: str | None = None


@dataclass(frozen=True, slots=True)
class OtherContribution:
    """What a relative, neighbour or voluntary organization does."""

    who: str
    relation: str
    contribution: str


@dataclass(frozen=True, slots=True)
class Coordinator:
    """The person who keeps the plan moving, employed at a unit of an involved principal; when the
    staff register knows them, ``practitioner_role_id`` names their coordinator role."""

    name: str
    unit_id: str
    principal_id: str
    title: str | None = None
    chosen_with_person: bool = True
    practitioner_role_id: str | None = None


@dataclass(frozen=True, slots=True)
class Basis:
    """An existing plan the coordinated plan is based on."""

    kind: BasisKind
    reference: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Initiator:
    """Who initiated the plan; for a unit, the organization, otherwise who asked for it."""

    kind: InitiatorKind
    organization_id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PlanContent:
    """Everything of a plan that a revision may change."""

    title: str
    goals: tuple[Goal, ...] = ()
    resources: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    others: tuple[OtherContribution, ...] = ()
    responsible_principal_id: str | None = None
    coordinator: Coordinator | None = None
    start_date: date | None = None
    planned_end_date: date | None = None
    follow_up_dates: tuple[date, ...] = ()
    basis: tuple[Basis, ...] = ()
    episode_id: str | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent to take part in the plan and to share information with the named principals.

    Given by a legal representative, it names every representative who consented (a child's two
    guardians); ``representative_name`` is the single name of consents recorded before that.
    """

    id: str
    given_by: ConsentGiver
    given_at: datetime
    method: ConsentMethod
    share_with: tuple[str, ...]
    recorded_by: str
    representative_name: str | None = None
    representatives: tuple[Representative, ...] = ()

    @property
    def consenting_representatives(self) -> tuple[Representative, ...]:
        """Every representative who consented (none when the person did)."""
        if self.representatives:
            return self.representatives
        if self.representative_name:
            return (Representative(self.representative_name),)
        return ()


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A withdrawal of consent: sharing with ``principal_ids`` stops (with all if none named)."""

    consent_id: str
    at: datetime
    principal_ids: tuple[str, ...]
    recorded_by: str

    @property
    def is_full(self) -> bool:
        """Whether the person withdrew from the plan altogether."""
        return not self.principal_ids


@dataclass(slots=True)
class Plan:
    """A coordinated individual plan of one person, at its current version."""

    id: str
    person_id: str
    jurisdiction: str
    initiator: Initiator
    initiating_principal_id: str
    content: PlanContent
    created_at: datetime
    status: PlanStatus = PlanStatus.DRAFT
    consents: list[Consent] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    version: int = 1
    updated_at: datetime | None = None
    status_reason: str | None = None

    @property
    def last_changed_at(self) -> datetime:
        """When this version was written: its change, or for the first version the creation."""
        return self.updated_at or self.created_at

    @property
    def category(self) -> str:
        """SIP in Sweden, IP (individuell plan) in Norway."""
        return "IP" if self.jurisdiction == "NO" else "SIP"

    def sharing_principals(self) -> frozenset[str]:
        """The principals the plan is shared with now: the initiator's, and those consented to."""
        shared = {self.initiating_principal_id}
        events: list[tuple[datetime, int, Consent | Withdrawal]] = [
            (c.given_at, 0, c) for c in self.consents
        ] + [(w.at, 1, w) for w in self.withdrawals]
        for _at, _order, event in sorted(events, key=lambda item: (item[0], item[1])):
            if isinstance(event, Consent):
                shared |= set(event.share_with)
            elif event.is_full:
                shared = {self.initiating_principal_id}
            else:
                shared -= set(event.principal_ids) - {self.initiating_principal_id}
        return frozenset(shared)

    def has_consent(self) -> bool:
        """Whether the person has consented and not withdrawn from the plan altogether."""
        if not self.consents:
            return False
        last_consent = max(c.given_at for c in self.consents)
        return not any(w.is_full and w.at >= last_consent for w in self.withdrawals)

    def withdrawn_principals(self) -> list[tuple[str, datetime]]:
        """Principals sharing was withdrawn from, and since when (what the plan says of it)."""
        shared = self.sharing_principals()
        result: dict[str, datetime] = {}
        for withdrawal in self.withdrawals:
            named = withdrawal.principal_ids or tuple(
                p for c in self.consents for p in c.share_with
            )
            for principal in named:
                if principal not in shared and principal != self.initiating_principal_id:
                    result[principal] = withdrawal.at
        return sorted(result.items())

    def _editable(self, what: str) -> None:
        if self.status in (PlanStatus.COMPLETED, PlanStatus.CANCELLED):
            raise IllegalTransition(
                f"plan {self.id} is {self.status.value}; {what} is only possible while it is "
                "draft or active"
            )

    def _bump(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now

    def revise(self, content: PlanContent, *, now: datetime) -> None:
        """Replace the plan's content (a revision, e.g. at a follow-up meeting)."""
        self._editable("a revision")
        validate_content(content)
        if self.status is PlanStatus.ACTIVE:
            missing = missing_for_activation(replace(self, content=content))
            if missing:
                raise Incomplete(
                    f"an active plan must stay complete; the revision lacks: "
                    f"{'; '.join(m for _f, m in missing)}",
                    missing,
                )
        self.content = content
        self._bump(now)

    def add_consent(self, consent: Consent, *, now: datetime) -> None:
        """Record a consent."""
        self._editable("recording consent")
        if consent.given_at > now:
            raise InvalidInput("given_at is in the future", field="given_at")
        if consent.given_by is ConsentGiver.LEGAL_REPRESENTATIVE:
            if not consent.consenting_representatives:
                raise InvalidInput(
                    "a consent given by a legal representative names every representative who "
                    "consented",
                    field="representatives",
                )
            check_representatives(consent.representatives, "representatives")
        elif consent.representatives or consent.representative_name:
            raise InvalidInput(
                "representatives consent with given_by legal-representative; this consent is "
                "the person's own",
                field="representatives",
            )
        if any(c.id == consent.id for c in self.consents):
            raise InvalidInput(f"consent {consent.id} is already recorded", field="id")
        self.consents.append(consent)
        self._bump(now)

    def withdraw(self, withdrawal: Withdrawal, *, now: datetime) -> None:
        """Record a withdrawal of consent; a full one cancels a draft or active plan."""
        if not any(c.id == withdrawal.consent_id for c in self.consents):
            raise NotFound(f"plan {self.id} has no consent {withdrawal.consent_id}")
        if withdrawal.at > now:
            raise InvalidInput("at is in the future", field="at")
        given = next(c for c in self.consents if c.id == withdrawal.consent_id)
        if withdrawal.at < given.given_at:
            raise InvalidInput("the withdrawal is before the consent was given", field="at")
        unknown = set(withdrawal.principal_ids) - set(given.share_with)
        if unknown:
            raise InvalidInput(
                f"consent {given.id} does not share with {', '.join(sorted(unknown))}",
                field="principal_ids",
            )
        self.withdrawals.append(withdrawal)
        if withdrawal.is_full and self.status in (PlanStatus.DRAFT, PlanStatus.ACTIVE):
            self.status = PlanStatus.CANCELLED
            self.status_reason = f"consent withdrawn at {withdrawal.at.isoformat()}"
        self._bump(now)

    def activate(self, *, now: datetime) -> None:
        """Make a complete draft active; the refusal lists every missing element at once."""
        if self.status is not PlanStatus.DRAFT:
            raise IllegalTransition(
                f"plan {self.id} is {self.status.value}; only a draft can be activated"
            )
        missing = missing_for_activation(self)
        if missing:
            raise Incomplete(
                f"plan {self.id} cannot be activated; it lacks: "
                f"{'; '.join(m for _f, m in missing)}",
                missing,
            )
        self.status = PlanStatus.ACTIVE
        self._bump(now)

    def complete(self, *, now: datetime, reason: str | None = None) -> None:
        """Close an active plan: its goals were met or coordination is no longer needed."""
        if self.status is not PlanStatus.ACTIVE:
            raise IllegalTransition(
                f"plan {self.id} is {self.status.value}; only an active plan can be completed"
            )
        self.status = PlanStatus.COMPLETED
        self.status_reason = reason
        self._bump(now)

    def cancel(self, *, now: datetime, reason: str) -> None:
        """Stop a draft or active plan."""
        self._editable("cancelling")
        self.status = PlanStatus.CANCELLED
        self.status_reason = reason
        self._bump(now)


def validate_content(content: PlanContent) -> None:
    """Refuse content that contradicts itself (duplicate ids, dates out of order)."""
    ids: dict[str, list[str]] = {
        "goals": [g.id for g in content.goals],
        "interventions": [i.id for i in content.interventions],
    }
    for name, values in ids.items():
        seen: set[str] = set()
        for index, value in enumerate(values):
            if value in seen:
                raise InvalidInput(f"{name} id {value} is used twice", field=f"{name}[{index}].id")
            seen.add(value)
    start, end = content.start_date, content.planned_end_date
    if start is not None and end is not None and end < start:
        raise InvalidInput("planned_end_date is before start_date", field="planned_end_date")
    for index, follow_up in enumerate(content.follow_up_dates):
        where = f"follow_up_dates[{index}]"
        if start is not None and follow_up < start:
            raise InvalidInput(f"follow-up {follow_up} is before start_date", field=where)
        if end is not None and follow_up > end:
            raise InvalidInput(f"follow-up {follow_up} is after planned_end_date", field=where)
    if list(content.follow_up_dates) != sorted(set(content.follow_up_dates)):
        raise InvalidInput("follow_up_dates must be in order, each once", field="follow_up_dates")


def missing_for_activation(plan: Plan) -> list[tuple[str, str]]:
    """Every element an active plan needs and this one lacks, as (field, message)."""
    content = plan.content
    missing: list[tuple[str, str]] = []
    if not plan.has_consent():
        missing.append(("consents", "the person's consent"))
    if not content.goals:
        missing.append(("goals", "at least one goal"))
    if not any(i.responsible_unit_id for i in content.interventions):
        missing.append(("interventions", "at least one intervention with a responsible unit"))
    if content.responsible_principal_id is None:
        missing.append(("responsible_principal_id", "the principal with overall responsibility"))
    if content.coordinator is None:
        missing.append(("coordinator", "a coordinator"))
    if not content.follow_up_dates:
        missing.append(("follow_up_dates", "a follow-up date"))
    if content.start_date is None:
        missing.append(("start_date", "a start date"))
    involved = {i.responsible_principal_id for i in content.interventions} | {
        content.responsible_principal_id,
        plan.initiating_principal_id,
    }
    if content.coordinator is not None and content.coordinator.principal_id not in involved:
        missing.append(
            (
                "coordinator.unit_id",
                f"a coordinator employed by an involved principal ({content.coordinator.unit_id} "
                f"belongs to {content.coordinator.principal_id}, which has no part in the plan)",
            )
        )
    if plan.has_consent():
        shared = plan.sharing_principals()
        needed = {
            p
            for p in (
                *(i.responsible_principal_id for i in content.interventions),
                content.responsible_principal_id,
                content.coordinator.principal_id if content.coordinator else None,
            )
            if p is not None
        }
        for principal in sorted(needed - shared):
            missing.append(
                ("consents", f"consent to share the plan with {principal}, which has a part in it")
            )
    return missing


@dataclass(frozen=True, slots=True)
class OverdueFollowUp:
    """A follow-up date that passed without a held meeting of the plan."""

    plan_id: str
    follow_up_date: date
    days_overdue: int


@dataclass(frozen=True, slots=True)
class FollowUpWindow:
    """A follow-up date of a plan, the instant it becomes overdue, and the instants between
    which a held meeting answers it (None: open on that side)."""

    plan_id: str
    follow_up_date: date
    due_at: datetime
    overdue_at: datetime
    answered_from: datetime | None
    answered_until: datetime | None

    def answered_by(self, held_at: datetime) -> bool:
        """Whether a meeting held at ``held_at`` answers this follow-up."""
        return (self.answered_from is None or held_at >= self.answered_from) and (
            self.answered_until is None or held_at < self.answered_until
        )


def follow_up_windows(plan: Plan) -> list[FollowUpWindow]:
    """Each follow-up date of the plan with its window, in the local time of its jurisdiction.

    A follow-up date is answered by a meeting held on a local date after the previous follow-up
    date (or the plan's start) and no later than the next follow-up date: a meeting held late
    still ends the overdue state, but one meeting does not answer for two missed follow-ups. It is
    overdue from the start of the local day after it until such a meeting is actually held; a
    meeting only summoned does not answer it.
    """
    zone = ZONES[plan.jurisdiction]

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    def after(day: date | None) -> datetime | None:
        return None if day is None else midnight(day + timedelta(days=1))

    dates = list(plan.content.follow_up_dates)
    return [
        FollowUpWindow(
            plan.id,
            follow_up,
            midnight(follow_up),
            midnight(follow_up + timedelta(days=1)),
            after(dates[index - 1] if index else plan.content.start_date),
            after(dates[index + 1] if index + 1 < len(dates) else None),
        )
        for index, follow_up in enumerate(dates)
    ]


def overdue_follow_ups(
    plan: Plan, meetings_held: list[datetime], *, today: date
) -> list[OverdueFollowUp]:
    """The active plan's follow-up dates before ``today`` that no meeting held (at
    ``meetings_held``) answered; see `follow_up_windows`."""
    if plan.status is not PlanStatus.ACTIVE:
        return []
    return [
        OverdueFollowUp(plan.id, window.follow_up_date, (today - window.follow_up_date).days)
        for window in follow_up_windows(plan)
        if window.follow_up_date < today
        and not any(window.answered_by(held) for held in meetings_held)
    ]
