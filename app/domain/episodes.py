"""Inpatient episodes and the discharge flow (DESIGN §4; lag 2017:612, Norwegian forskrift om
kommunal betaling for utskrivningsklare pasienter).

An episode moves ``admitted → planning → discharge-ready → discharged``; a withdrawal takes a
discharge-ready episode back to planning, and a later discharge-ready notice starts a new payment
clock. Every step is an event with the time the notice was sent; the events are the only input of
the payment-liability computation (`app.domain.liability`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.errors import IllegalTransition, InvalidInput
from app.domain.message_events import MessageEvent, event_of
from app.domain.values import check_instant

READMISSION_WINDOW = timedelta(days=30)
ZONES = {"SE": ZoneInfo("Europe/Stockholm"), "NO": ZoneInfo("Europe/Oslo")}
"""The local time of each jurisdiction: days, months and deadlines are counted in it."""
CLOCK_SKEW = timedelta(minutes=5)


class EpisodeState(StrEnum):
    """Where an episode is in the discharge flow."""

    ADMITTED = "admitted"
    PLANNING = "planning"
    DISCHARGE_READY = "discharge-ready"
    DISCHARGED = "discharged"


class EventKind(StrEnum):
    """The notices of the discharge flow; the codes are those of the message-event CodeSystem."""

    # Each is the MessageEvent (``event``) that says all else of it, its REST name included.

    ADMISSION_NOTICE = MessageEvent.ADMISSION_NOTICE.value
    EXPECTED_DISCHARGE_CHANGED = MessageEvent.EXPECTED_DISCHARGE_CHANGED.value
    DISCHARGE_READY = MessageEvent.DISCHARGE_READY.value
    DISCHARGE_READY_WITHDRAWN = MessageEvent.DISCHARGE_READY_WITHDRAWN.value
    MUNICIPALITY_RESPONSE = MessageEvent.MUNICIPALITY_RESPONSE.value
    DISCHARGE_NOTICE = MessageEvent.DISCHARGE_NOTICE.value
    SERVICES_STARTED = MessageEvent.SERVICES_STARTED.value

    @property
    def event(self) -> MessageEvent:
        """The message event this notice is."""
        return event_of(self.value)

    @property
    def notice(self) -> str:
        """The notice's name in the REST API (``/api/v1/episodes/{id}/<notice>``)."""
        notice = self.event.notice
        assert notice is not None, f"{self.value} is a notice"
        return notice


class AdmissionType(StrEnum):
    """Whether the admission was acute or planned."""

    ACUTE = "acute"
    PLANNED = "planned"


class CareType(StrEnum):
    """Somatic or psychiatric inpatient care; it selects the liability rule set in Sweden."""

    SOMATIC = "somatic"
    PSYCHIATRIC = "psychiatric"


@dataclass(frozen=True, slots=True)
class EpisodeEvent:
    """One notice of an episode.

    ``at`` is when the notice was sent (timezone-aware). ``decided_at`` is when the treating doctor
    judged the patient discharge-ready (defaults to ``at``); ``can_receive_from`` is the date from
    which the municipality says it can receive the patient (none in an answer that it cannot yet,
    which gives its ``reason``), and ``units`` the municipality's units that will provide its
    services (they become the episode's receivers); ``services`` are the services it plans (in
    an answer) or that began (``services-started``, with ``arrived_at``, when the patient arrived).
    ``coordinated_planning`` on a discharge-ready notice says both region and municipality must
    provide services after the discharge, which starts the three-day summons deadline.
    """

    seq: int
    kind: EventKind
    at: datetime
    expected_discharge_date: date | None = None
    decided_at: datetime | None = None
    can_receive_from: date | None = None
    coordinated_planning: bool = False
    units: tuple[str, ...] = ()
    reason: str | None = None
    services: tuple[str, ...] = ()
    arrived_at: datetime | None = None


@dataclass(slots=True)
class Episode:
    """One inpatient stay of a person at a hospital unit, with the notices sent about it."""

    id: str
    person_id: str
    hospital_unit_id: str
    region_id: str
    municipality_id: str
    primary_care_unit_id: str | None
    jurisdiction: str
    admitted_at: datetime
    admission_type: AdmissionType
    care_type: CareType
    state: EpisodeState = EpisodeState.ADMITTED
    expected_discharge_date: date | None = None
    readmission_of_id: str | None = None
    version: int = 1
    events: list[EpisodeEvent] = field(default_factory=list)
    # When this version was written (the store sets it; FHIR's meta.lastUpdated).
    updated_at: datetime | None = None

    @property
    def is_readmission(self) -> bool:
        """True when the episode began within 30 days of an earlier discharge of the person."""
        return self.readmission_of_id is not None

    @property
    def receiving_units(self) -> tuple[str, ...]:
        """The municipality's units named in its latest answer that named any (else none)."""
        for event in reversed(self.events):
            if event.kind is EventKind.MUNICIPALITY_RESPONSE and event.units:
                return event.units
        return ()

    @property
    def admission_notice_at(self) -> datetime | None:
        """When the admission notice was sent, if it was."""
        return _first_at(self.events, EventKind.ADMISSION_NOTICE)

    @property
    def discharge_ready_since(self) -> datetime | None:
        """Start of the running payment clock: the latest discharge-ready notice not withdrawn."""
        if (
            self.state is not EpisodeState.DISCHARGE_READY
            and self.state is not EpisodeState.DISCHARGED
        ):
            return None
        since: datetime | None = None
        for event in self.events:
            if event.kind is EventKind.DISCHARGE_READY:
                since = event.at
            elif event.kind is EventKind.DISCHARGE_READY_WITHDRAWN:
                since = None
        return since

    @property
    def discharged_at(self) -> datetime | None:
        """When the discharge notice was sent, if it was."""
        return _first_at(self.events, EventKind.DISCHARGE_NOTICE)

    @property
    def latest_answer(self) -> EpisodeEvent | None:
        """The municipality's latest answer, if it has answered."""
        return next(
            (e for e in reversed(self.events) if e.kind is EventKind.MUNICIPALITY_RESPONSE), None
        )

    @property
    def services_started(self) -> EpisodeEvent | None:
        """The municipality's confirmation that the patient arrived and its services began."""
        return next((e for e in self.events if e.kind is EventKind.SERVICES_STARTED), None)

    # -- commands -------------------------------------------------------------------------------

    def send_admission_notice(self, at: datetime, *, now: datetime) -> EpisodeEvent:
        """Record that the hospital told the municipality and primary care about the admission."""
        if self.state is not EpisodeState.ADMITTED:
            raise IllegalTransition(self._refusal("an admission notice", "it was already sent"))
        return self._append(
            EpisodeEvent(self._next_seq(), EventKind.ADMISSION_NOTICE, at),
            now,
            EpisodeState.PLANNING,
        )

    def change_expected_discharge(
        self, at: datetime, expected: date, *, now: datetime
    ) -> EpisodeEvent:
        """Record a new expected discharge date; it may change any number of times."""
        if self.state is EpisodeState.DISCHARGED:
            raise IllegalTransition(self._refusal("an expected discharge date", "it is closed"))
        if expected < self.admitted_at.date() - timedelta(days=1):
            raise InvalidInput(
                f"expected discharge date {expected.isoformat()} is before the admission on "
                f"{self.admitted_at.date().isoformat()}",
                field="expected_discharge_date",
            )
        event = EpisodeEvent(
            self._next_seq(),
            EventKind.EXPECTED_DISCHARGE_CHANGED,
            at,
            expected_discharge_date=expected,
        )
        self._append(event, now, self.state)
        self.expected_discharge_date = expected
        return event

    def declare_discharge_ready(
        self,
        at: datetime,
        *,
        now: datetime,
        decided_at: datetime | None = None,
        coordinated_planning: bool = False,
    ) -> EpisodeEvent:
        """Record the discharge-ready notice; its time starts a payment clock."""
        if self.state is EpisodeState.ADMITTED:
            raise IllegalTransition(
                f"episode {self.id} cannot be declared discharge-ready: no admission notice has "
                "been sent, and the discharge-ready notice must follow it"
            )
        if self.state is EpisodeState.DISCHARGE_READY:
            raise IllegalTransition(
                f"episode {self.id} is already discharge-ready since "
                f"{_iso(self.discharge_ready_since)}; withdraw that notice before sending a new one"
            )
        if self.state is EpisodeState.DISCHARGED:
            raise IllegalTransition(self._refusal("a discharge-ready notice", "it is closed"))
        if decided_at is not None:
            check_aware(decided_at, "decided_at")
            if decided_at < self.admitted_at:
                raise InvalidInput("decided_at is before the admission", field="decided_at")
        if decided_at is not None and decided_at > at:
            raise InvalidInput(
                "decided_at is after the time the notice was sent; the notice cannot precede the "
                "decision",
                field="decided_at",
            )
        event = EpisodeEvent(
            self._next_seq(),
            EventKind.DISCHARGE_READY,
            at,
            decided_at=decided_at or at,
            coordinated_planning=coordinated_planning,
        )
        return self._append(event, now, EpisodeState.DISCHARGE_READY)

    def withdraw_discharge_ready(self, at: datetime, *, now: datetime) -> EpisodeEvent:
        """Record that the patient is no longer discharge-ready; the running clock stops."""
        if self.state is not EpisodeState.DISCHARGE_READY:
            raise IllegalTransition(
                f"episode {self.id} is {self.state.value}, not discharge-ready, so there is no "
                "discharge-ready notice to withdraw"
            )
        event = EpisodeEvent(self._next_seq(), EventKind.DISCHARGE_READY_WITHDRAWN, at)
        return self._append(event, now, EpisodeState.PLANNING)

    def record_municipality_response(
        self,
        at: datetime,
        can_receive_from: date | None,
        *,
        now: datetime,
        units: tuple[str, ...] = (),
        reason: str | None = None,
        services: tuple[str, ...] = (),
    ) -> EpisodeEvent:
        """Record the municipality's answer: the date from which it can receive the patient (or
        none yet, and why), the services it plans, and the units that will provide them."""
        if self.state is not EpisodeState.DISCHARGE_READY:
            raise IllegalTransition(
                f"episode {self.id} is {self.state.value}; the municipality answers a "
                "discharge-ready notice, and none is in force"
            )
        event = EpisodeEvent(
            self._next_seq(),
            EventKind.MUNICIPALITY_RESPONSE,
            at,
            can_receive_from=can_receive_from,
            units=units,
            reason=reason,
            services=services,
        )
        return self._append(event, now, EpisodeState.DISCHARGE_READY)

    def confirm_services_started(
        self,
        at: datetime,
        *,
        now: datetime,
        arrived_at: datetime | None = None,
        services: tuple[str, ...] = (),
    ) -> EpisodeEvent:
        """Record the municipality's confirmation that the patient arrived home (at
        ``arrived_at``, default ``at``) and that its ``services`` began."""
        discharged = self.discharged_at
        if self.state is not EpisodeState.DISCHARGED or discharged is None:
            raise IllegalTransition(
                f"episode {self.id} is {self.state.value}: the municipality confirms that its "
                "services started after the discharge, and the patient has not been discharged"
            )
        if any(e.kind is EventKind.SERVICES_STARTED for e in self.events):
            raise IllegalTransition(
                f"episode {self.id}: the municipality already confirmed that its services started"
            )
        arrived = arrived_at or at
        check_aware(arrived, "arrived_at")
        if arrived < discharged:
            raise InvalidInput(
                f"arrived_at {_iso(arrived)} is before the discharge at {_iso(discharged)}",
                field="arrived_at",
            )
        if arrived > at:
            raise InvalidInput(
                "arrived_at is after the time the confirmation was sent", field="arrived_at"
            )
        event = EpisodeEvent(
            self._next_seq(),
            EventKind.SERVICES_STARTED,
            at,
            services=services,
            arrived_at=arrived,
        )
        return self._append(event, now, EpisodeState.DISCHARGED)

    def discharge(self, at: datetime, *, now: datetime) -> EpisodeEvent:
        """Record the discharge notice; it closes the episode."""
        if self.state is EpisodeState.DISCHARGED:
            raise IllegalTransition(
                f"episode {self.id} was already discharged at {_iso(self.discharged_at)}; "
                "an episode is discharged once"
            )
        event = EpisodeEvent(self._next_seq(), EventKind.DISCHARGE_NOTICE, at)
        return self._append(event, now, EpisodeState.DISCHARGED)

    # -- helpers --------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        return len(self.events) + 1

    def _refusal(self, what: str, why: str) -> str:
        return f"episode {self.id} is {self.state.value}: {what} cannot be recorded because {why}"

    def _append(self, event: EpisodeEvent, now: datetime, new_state: EpisodeState) -> EpisodeEvent:
        check_aware(event.at, "at")
        if event.at > now + CLOCK_SKEW:
            raise InvalidInput(f"the notice time {_iso(event.at)} is in the future", field="at")
        if event.at < self.admitted_at:
            raise InvalidInput(
                f"the notice time {_iso(event.at)} is before the admission at "
                f"{_iso(self.admitted_at)}",
                field="at",
            )
        if self.events and event.at < self.events[-1].at:
            raise InvalidInput(
                f"the notice time {_iso(event.at)} is before the previous notice "
                f"({self.events[-1].kind.value} at {_iso(self.events[-1].at)}); notices are "
                "recorded in the order they were sent",
                field="at",
            )
        self.events.append(event)
        self.state = new_state
        return event


def find_readmission_source(
    admitted_at: datetime, earlier: list[tuple[str, datetime]]
) -> str | None:
    """Return the id of the episode this admission is a readmission of, if any.

    ``earlier`` holds (episode id, discharged_at) of the person's discharged episodes. The most
    recent discharge at or before ``admitted_at`` and at most 30 days before it wins.
    """
    candidates = [
        (discharged_at, episode_id)
        for episode_id, discharged_at in earlier
        if discharged_at <= admitted_at and admitted_at - discharged_at <= READMISSION_WINDOW
    ]
    return max(candidates)[1] if candidates else None


def check_aware(value: datetime, name: str) -> None:
    """Refuse timestamps without a UTC offset (a day cannot be counted without one) or outside
    the years the service keeps."""
    check_instant(value, name)


def _first_at(events: list[EpisodeEvent], kind: EventKind) -> datetime | None:
    return next((e.at for e in events if e.kind is kind), None)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "an unknown time"
