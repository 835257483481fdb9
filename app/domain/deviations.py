"""Deviation reports (DESIGN §7): a unit reports that cooperation failed.

A report names its category, the episode or plan it concerns (or, for a general failure of
cooperation, neither, but the organizations involved), what happened, and the reporting unit.
Some are raised by the service itself, each once, by a rule (``app.domain.deviation_rules``).
A report goes to the receiving principal's handler (the MAS for a municipality's health care,
the patient-safety function for a region), who investigates and answers:
``reported → investigating → answered → closed``. Only the handler moves it on; the reporting
and the criticized units cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.domain.errors import Forbidden, IllegalTransition, InvalidInput


class DeviationCategory(StrEnum):
    """What went wrong."""

    LATE_ADMISSION_NOTICE = "late-admission-notice"
    MISSING_DISCHARGE_INFORMATION = "missing-discharge-information"
    SUMMONS_DEADLINE_MISSED = "summons-deadline-missed"
    MEDICATION_LIST_MISSING = "medication-list-missing"
    UNSAFE_TRANSITION = "unsafe-transition"
    OTHER = "other"


class DeviationState(StrEnum):
    """Where the handling is."""

    REPORTED = "reported"
    INVESTIGATING = "investigating"
    ANSWERED = "answered"
    CLOSED = "closed"


_NEXT = {
    DeviationState.REPORTED: (DeviationState.INVESTIGATING, DeviationState.ANSWERED),
    DeviationState.INVESTIGATING: (DeviationState.ANSWERED,),
    DeviationState.ANSWERED: (DeviationState.CLOSED, DeviationState.INVESTIGATING),
    DeviationState.CLOSED: (),
}


@dataclass(frozen=True, slots=True)
class StateChange:
    """One step of the handling: to which state, when, by which organization, and a note."""

    state: DeviationState
    at: datetime
    organization_id: str
    note: str | None = None


@dataclass(slots=True)
class Deviation:
    """A deviation report and its handling.

    ``organizations`` are the organizations a general report (no episode, no plan, no person)
    names as involved; ``rule`` is the rule that raised it, when the service raised it itself.
    """

    id: str
    person_id: str | None
    category: DeviationCategory
    description: str
    reporter_id: str
    reporter_principal_id: str
    handler_principal_id: str
    handler_id: str
    reported_at: datetime
    handler_role_id: str | None = None
    episode_id: str | None = None
    plan_id: str | None = None
    state: DeviationState = DeviationState.REPORTED
    answer: str | None = None
    version: int = 1
    history: list[StateChange] = field(default_factory=list)
    organizations: tuple[str, ...] = ()
    rule: str | None = None

    def move(
        self,
        to: DeviationState,
        *,
        organization_id: str,
        by_handler: bool,
        note: str | None,
        at: datetime,
    ) -> None:
        """Move the handling on; ``by_handler`` says whether the caller is the handler."""
        if to not in _NEXT[self.state]:
            allowed = ", ".join(s.value for s in _NEXT[self.state]) or "nothing (it is closed)"
            raise IllegalTransition(
                f"a {self.state.value} deviation can move to {allowed}, not {to.value}",
                field="state",
            )
        if not by_handler:
            raise Forbidden(
                f"only the handler ({self.handler_id}) moves deviation {self.id} on; the "
                "reporting and the criticized units cannot",
                field="state",
            )
        if to is DeviationState.ANSWERED:
            if not note:
                raise InvalidInput("an answer needs its text", field="note")
            self.answer = note
        self.state = to
        self.history.append(StateChange(to, at, organization_id, note))
        self.version += 1
