"""The municipality's notices on an episode, as the API shows and takes them: its answer to the
discharge-ready notice, and its confirmation that the patient arrived and its services began."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.domain.episodes import EpisodeEvent
from app.domain.handover import REASON_MAX, Answer, PlannedService
from app.http.values import Day, Instant


class AnswerRead(BaseModel):
    """The municipality's latest answer."""

    at: datetime = Field(description="when it answered")
    answer: Answer = Field(description="can-receive or cannot-receive-yet")
    can_receive_from: date | None
    reason: str | None = Field(description="why it cannot receive the patient yet")
    planned_services: list[PlannedService] = Field(description="the services it plans")
    units: list[str] = Field(description="the units of the municipality it named to provide them")


class ServicesStartedRead(BaseModel):
    """The municipality's confirmation that the patient arrived and its services began."""

    at: datetime = Field(description="when it confirmed")
    arrived_at: datetime = Field(description="when the patient arrived home")
    services: list[PlannedService] = Field(description="the services that began")


class MunicipalityResponse(BaseModel):
    """The municipality says from which date it can receive the patient, or that it cannot yet
    and why; which services it plans; and which of its units will provide them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "answer": "can-receive",
                    "can_receive_from": "2026-03-07",
                    "planned_services": ["home-care", "home-health-care"],
                    "units": ["kommun-2580-hemsjukvard"],
                },
                {
                    "answer": "cannot-receive-yet",
                    "reason": "Korttidsplats saknas till och med fredag.",
                    "planned_services": ["short-term-stay"],
                },
            ]
        },
    )

    at: Instant | None = Field(default=None, description="when the answer was sent, with offset")
    answer: Answer = Field(
        default=Answer.CAN_RECEIVE,
        description="can-receive (from `can_receive_from`) or cannot-receive-yet (with a "
        "`reason`); the latest answer holds",
    )
    can_receive_from: Day | None = Field(
        default=None,
        description="the date from which the municipality can receive the patient (can-receive)",
    )
    reason: str | None = Field(
        default=None,
        max_length=REASON_MAX,
        description="why the municipality cannot receive the patient yet (cannot-receive-yet)",
    )
    planned_services: list[str] = Field(
        default=[],
        max_length=len(PlannedService),
        description="the services the municipality plans: "
        + ", ".join(s.value for s in PlannedService),
    )
    units: list[str] = Field(
        default=[],
        max_length=20,
        description="units of the receiving municipality that will provide its services: they "
        "become the episode's receivers (and see it) in the municipality's place",
    )


class ServicesStarted(BaseModel):
    """The municipality confirms that the patient arrived home and that its services began."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "arrived_at": "2026-03-09T14:20:00+01:00",
                    "services": ["home-care", "home-health-care"],
                }
            ]
        },
    )

    at: Instant | None = Field(default=None, description="when it was sent, with offset")
    arrived_at: Instant | None = Field(
        default=None, description="when the patient arrived home, with offset; defaults to `at`"
    )
    services: list[str] = Field(
        default=[],
        max_length=len(PlannedService),
        description="the services that began: " + ", ".join(s.value for s in PlannedService),
    )


def answer_of(event: EpisodeEvent) -> Answer:
    """Whether an answer said the municipality can receive the patient."""
    return Answer.CAN_RECEIVE if event.can_receive_from is not None else Answer.CANNOT_RECEIVE_YET


def answer_json(event: EpisodeEvent | None) -> dict[str, object] | None:
    """The municipality's answer as ``AnswerRead`` shows it, as plain values (the episode's
    JSON is built from them without pydantic, issue 20)."""
    if event is None:
        return None
    return {
        "at": event.at,
        "answer": answer_of(event),
        "can_receive_from": event.can_receive_from,
        "reason": event.reason,
        "planned_services": list(event.services),
        "units": list(event.units),
    }


def started_json(event: EpisodeEvent | None) -> dict[str, object] | None:
    """The confirmation that services started as ``ServicesStartedRead`` shows it, as plain
    values."""
    if event is None:
        return None
    return {
        "at": event.at,
        "arrived_at": event.arrived_at or event.at,
        "services": list(event.services),
    }
