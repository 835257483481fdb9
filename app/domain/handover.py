"""The municipality's side of the handover (DESIGN §4, §9; lag 2017:612 ch. 4; the Norwegian
forskrift om kommunal betaling for utskrivningsklare pasienter; the home-care directive's
"säkra övergångar").

After the discharge-ready notice the municipality answers: it can receive the patient from a
date, or it cannot receive the patient yet, for a reason. Either way it may say which services
it plans (home care, home health care, a short-term stay, …). Only the municipality itself or
those of its units that plan discharges answer for it. After the discharge, the municipality
confirms that the patient arrived home and that its services began (``services-started``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum

from app.domain.errors import InvalidInput
from app.domain.organizations import UnitFunction
from app.domain.values import check_chosen

REASON_MAX = 1000


class PlannedService(StrEnum):
    """The municipal services a municipality plans for the patient after the discharge."""

    HOME_CARE = "home-care"
    HOME_HEALTH_CARE = "home-health-care"
    SHORT_TERM_STAY = "short-term-stay"
    SPECIAL_HOUSING = "special-housing"
    REHABILITATION = "rehabilitation"
    OTHER = "other"


SERVICE_DISPLAY = {
    PlannedService.HOME_CARE: "Home care (hemtjänst / hjemmetjeneste)",
    PlannedService.HOME_HEALTH_CARE: "Home health care (hemsjukvård / hjemmesykepleie)",
    PlannedService.SHORT_TERM_STAY: "Short-term stay (korttidsplats / korttidsopphold)",
    PlannedService.SPECIAL_HOUSING: "Special housing (särskilt boende / sykehjem)",
    PlannedService.REHABILITATION: "Rehabilitation (rehabilitering)",
    PlannedService.OTHER: "Other municipal service",
}


class Answer(StrEnum):
    """What the municipality answers to a discharge-ready notice."""

    CAN_RECEIVE = "can-receive"
    CANNOT_RECEIVE_YET = "cannot-receive-yet"


# The units that plan a discharge for the municipality: its social services (biståndshandläggning,
# saksbehandling / tildelingskontor) and its home-care and home-health-care services. A unit of
# another function (LSS, school health, …) provides services but does not answer for the
# municipality.
DISCHARGE_PLANNING_FUNCTIONS = frozenset(
    {UnitFunction.SOCIAL_SERVICES, UnitFunction.HOME_CARE, UnitFunction.HOME_HEALTH_CARE}
)


def answer_refusal(unit_id: str, function: UnitFunction | None) -> str | None:
    """Why the unit may not answer for its municipality, or None when it may."""
    if function in DISCHARGE_PLANNING_FUNCTIONS:
        return None
    planners = ", ".join(sorted(f.value for f in DISCHARGE_PLANNING_FUNCTIONS))
    what = function.value if function is not None else "none"
    return (
        f"{unit_id} (function {what}) does not plan discharges: the municipality's answer is "
        f"given by the municipality itself or by its units of function {planners}"
    )


def check_answer(
    answer: Answer, can_receive_from: date | None, reason: str | None
) -> tuple[date | None, str | None]:
    """The date and reason of a well-formed answer: a date when it can receive the patient, a
    reason (and no date) when it cannot yet."""
    reason = reason.strip() if reason else None
    if reason is not None and len(reason) > REASON_MAX:
        raise InvalidInput(f"the reason is at most {REASON_MAX} characters", field="reason")
    if answer is Answer.CAN_RECEIVE:
        if can_receive_from is None:
            raise InvalidInput(
                "can_receive_from is required when the municipality can receive the patient",
                field="can_receive_from",
            )
        return can_receive_from, reason
    if can_receive_from is not None:
        raise InvalidInput(
            "a municipality that cannot receive the patient yet names no date; answer "
            "can-receive with can_receive_from once it can",
            field="can_receive_from",
        )
    if not reason:
        raise InvalidInput(
            "say why the municipality cannot receive the patient yet", field="reason"
        )
    return None, reason


def check_services(services: Sequence[str], field: str = "planned_services") -> tuple[str, ...]:
    """The planned services as codes, each once; an unknown code names its place."""
    known = {s.value for s in PlannedService}
    listed = ", ".join(sorted(known))
    return check_chosen(
        services,
        known,
        field,
        unknown=lambda code: f"{code!r} is not a planned service; known: {listed}",
        twice="a service is named twice",
    )
