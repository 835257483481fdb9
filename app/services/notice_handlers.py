"""One handler per notice command (``app.services.commands``): how it changes the episode.

``apply_notice`` picks the command's handler; ``record_notice`` (``app.services.episodes``)
does what is the same for every notice around it (access, the version, storing, the payment
clocks, the delivery). ``notice_facts`` is what each notice's delivered payload says of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from app.domain.episodes import Episode, EpisodeEvent, EventKind, check_aware
from app.domain.handover import check_answer, check_services
from app.services.commands import (
    ChangeExpectedDischarge,
    ConfirmServicesStarted,
    DeclareDischargeReady,
    Discharge,
    EpisodeNotice,
    RecordMunicipalityResponse,
    SendAdmissionNotice,
    WithdrawDischargeReady,
)

C = TypeVar("C", bound=EpisodeNotice)
Handler = Callable[[Episode, C, datetime, datetime], EpisodeEvent]
"""A handler: the episode, the command, when the notice was sent, and now."""

HANDLERS: dict[type[EpisodeNotice], Handler[Any]] = {}


def _handles(command: type[C]) -> Callable[[Handler[C]], Handler[C]]:
    def register(handler: Handler[C]) -> Handler[C]:
        HANDLERS[command] = handler
        return handler

    return register


class _Method(Protocol):
    """An episode's method that applies a notice carrying nothing but when it was sent."""

    def __call__(self, episode: Episode, at: datetime, /, *, now: datetime) -> EpisodeEvent: ...


def _timed(method: _Method) -> Handler[EpisodeNotice]:
    def handle(episode: Episode, _: EpisodeNotice, at: datetime, now: datetime) -> EpisodeEvent:
        return method(episode, at, now=now)

    return handle


HANDLERS.update(
    {
        SendAdmissionNotice: _timed(Episode.send_admission_notice),
        WithdrawDischargeReady: _timed(Episode.withdraw_discharge_ready),
        Discharge: _timed(Episode.discharge),
    }
)


def apply_notice(
    episode: Episode, notice: EpisodeNotice, at: datetime, now: datetime
) -> EpisodeEvent:
    """Apply the notice to the episode with its handler; the event it adds."""
    return HANDLERS[type(notice)](episode, notice, at, now)


@_handles(ChangeExpectedDischarge)
def _expected_discharge(
    episode: Episode, notice: ChangeExpectedDischarge, at: datetime, now: datetime
) -> EpisodeEvent:
    return episode.change_expected_discharge(at, notice.expected_discharge_date, now=now)


@_handles(DeclareDischargeReady)
def _discharge_ready(
    episode: Episode, notice: DeclareDischargeReady, at: datetime, now: datetime
) -> EpisodeEvent:
    if notice.decided_at is not None:
        check_aware(notice.decided_at, "decided_at")
    return episode.declare_discharge_ready(
        at, now=now, decided_at=notice.decided_at, coordinated_planning=notice.coordinated_planning
    )


@_handles(RecordMunicipalityResponse)
def _municipality_response(
    episode: Episode, notice: RecordMunicipalityResponse, at: datetime, now: datetime
) -> EpisodeEvent:
    can_receive_from, reason = check_answer(notice.answer, notice.can_receive_from, notice.reason)
    return episode.record_municipality_response(
        at,
        can_receive_from,
        now=now,
        units=notice.units,
        reason=reason,
        services=check_services(notice.services),
    )


@_handles(ConfirmServicesStarted)
def _services_started(
    episode: Episode, notice: ConfirmServicesStarted, at: datetime, now: datetime
) -> EpisodeEvent:
    return episode.confirm_services_started(
        at,
        now=now,
        arrived_at=notice.arrived_at,
        services=check_services(notice.services, "services"),
    )


def notice_facts(event: EpisodeEvent) -> dict[str, object]:
    """What the delivered payload says of the notice besides its episode: dates and codes."""
    facts: dict[str, object] = {}
    match event.kind:
        case EventKind.EXPECTED_DISCHARGE_CHANGED if event.expected_discharge_date:
            facts["expected_discharge_date"] = event.expected_discharge_date.isoformat()
        case EventKind.DISCHARGE_READY:
            facts["decided_at"] = (event.decided_at or event.at).isoformat()
            facts["coordinated_planning"] = event.coordinated_planning
        case EventKind.MUNICIPALITY_RESPONSE:
            facts["answer"] = "can-receive" if event.can_receive_from else "cannot-receive-yet"
            if event.can_receive_from is not None:
                facts["can_receive_from"] = event.can_receive_from.isoformat()
            facts["planned_services"] = list(event.services)
        case EventKind.SERVICES_STARTED:
            facts["arrived_at"] = (event.arrived_at or event.at).isoformat()
            facts["services"] = list(event.services)
    return facts
