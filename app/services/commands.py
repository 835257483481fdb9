"""The notices on an episode, one command each.

The REST API, FHIR messaging, the console and the demo build these and hand them to
``app.services.episodes.record_notice``, which applies each with its own handler. A command's
``kind`` is the event it becomes (``EventKind``, a code of ``app.domain.message_events``), from
which the notice's REST name is derived too.

Every notice says when it was sent (``at``; by default when it is applied) and may name the
version of the episode its sender last saw (``if_match``). What it may carry besides its own
facts (documents, the planning basis) is ``carried``; which notices may carry what is the rule
of ``app.services.notice_content``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar

from app.domain.episodes import EventKind
from app.domain.handover import Answer
from app.services.notice_content import Carried


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeNotice:
    """What every notice on an episode has."""

    kind: ClassVar[EventKind]
    at: datetime | None = None
    if_match: int | None = None
    carried: Carried = field(default_factory=Carried)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendAdmissionNotice(EpisodeNotice):
    """The hospital tells the municipality and primary care that the patient was admitted."""

    kind: ClassVar[EventKind] = EventKind.ADMISSION_NOTICE


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeExpectedDischarge(EpisodeNotice):
    """The hospital tells the receivers a new expected discharge date."""

    kind: ClassVar[EventKind] = EventKind.EXPECTED_DISCHARGE_CHANGED
    expected_discharge_date: date


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclareDischargeReady(EpisodeNotice):
    """The treating doctor judged the patient discharge-ready (at ``decided_at``, by default
    ``at``); ``coordinated_planning`` makes a planning-meeting summons due."""

    kind: ClassVar[EventKind] = EventKind.DISCHARGE_READY
    decided_at: datetime | None = None
    coordinated_planning: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawDischargeReady(EpisodeNotice):
    """The patient is no longer discharge-ready."""

    kind: ClassVar[EventKind] = EventKind.DISCHARGE_READY_WITHDRAWN


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordMunicipalityResponse(EpisodeNotice):
    """The municipality can receive the patient (``answer``, from ``can_receive_from``) or not
    yet (with its ``reason``); the ``services`` it plans and the ``units`` that will provide
    them."""

    kind: ClassVar[EventKind] = EventKind.MUNICIPALITY_RESPONSE
    answer: Answer = Answer.CAN_RECEIVE
    can_receive_from: date | None = None
    reason: str | None = None
    services: tuple[str, ...] = ()
    units: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Discharge(EpisodeNotice):
    """The patient left the hospital; the episode closes."""

    kind: ClassVar[EventKind] = EventKind.DISCHARGE_NOTICE


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmServicesStarted(EpisodeNotice):
    """The municipality confirms that the patient arrived (``arrived_at``, by default ``at``)
    and which ``services`` began."""

    kind: ClassVar[EventKind] = EventKind.SERVICES_STARTED
    arrived_at: datetime | None = None
    services: tuple[str, ...] = ()


Notice = (
    SendAdmissionNotice
    | ChangeExpectedDischarge
    | DeclareDischargeReady
    | WithdrawDischargeReady
    | RecordMunicipalityResponse
    | Discharge
    | ConfirmServicesStarted
)
