"""The drill-down of a statistic: which records one cell of an indicator counted.

Each indicator counts one kind of record (an episode's notice, a discharge, a plan, a meeting, a
deviation, a care message or a recipient's acknowledgement of one). A listed record carries
its type and id, the person it concerns (never a protected identity), the unit and
municipality it was attributed to, the instant that placed it in the period and any other
instants that made it count, and the REST path that reads it. Who may see which records is the
services' business (access follows the record); what is here is pure.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.errors import InvalidInput
from app.domain.parties import RecordType


@dataclass(frozen=True, slots=True)
class Counted:
    """What an indicator counts: the record type, the FHIR type its reads are logged as, and
    the names of the instants a listed record carries (the first placed it in the period)."""

    record_type: RecordType
    resource_type: str
    instants: tuple[str, ...]


_EVENT = Counted(RecordType.EPISODE, "Encounter", ("sent_at",))
_DISCHARGE = Counted(RecordType.EPISODE, "Encounter", ("discharged_at", "discharge_ready_at"))
_PLAN = Counted(RecordType.PLAN, "CarePlan", ("recorded_at",))
_DEVIATION = Counted(RecordType.DEVIATION, "Task", ("reported_at",))

COUNTED: dict[str, Counted] = {
    "admissions-notified": Counted(RecordType.EPISODE, "Encounter", ("sent_at", "admitted_at")),
    "admission-notice-within-24h": Counted(
        RecordType.EPISODE, "Encounter", ("sent_at", "admitted_at")
    ),
    "discharge-ready-notices": _EVENT,
    "discharge-ready-withdrawals": _EVENT,
    "days-ready-to-discharge": _DISCHARGE,
    "liable-days": Counted(
        RecordType.EPISODE, "Encounter", ("admitted_at", "discharge_ready_at", "discharged_at")
    ),
    "summons-within-deadline": Counted(RecordType.EPISODE, "Encounter", ("sent_at", "summoned_at")),
    "readmissions-30-days": Counted(
        RecordType.EPISODE, "Encounter", ("discharged_at", "readmitted_at")
    ),
    "plans-started": _PLAN,
    "plans-activated": _PLAN,
    "plans-completed": _PLAN,
    "plans-with-overdue-follow-up": Counted(RecordType.PLAN, "CarePlan", ("due_at", "overdue_at")),
    "meetings-held": Counted(RecordType.MEETING, "Appointment", ("held_at",)),
    "deviations-by-category": _DEVIATION,
    "deviations-by-state": _DEVIATION,
    "deviation-hours-to-answer": Counted(
        RecordType.DEVIATION, "Task", ("answered_at", "reported_at")
    ),
    "care-messages": Counted(RecordType.MESSAGE, "Communication", ("sent_at",)),
    "acknowledgement-minutes": Counted(
        RecordType.MESSAGE, "Communication", ("acknowledged_at", "sent_at")
    ),
}

_PATHS = {
    RecordType.EPISODE: "/api/v1/episodes/{}",
    RecordType.PLAN: "/api/v1/plans/{}",
    RecordType.MEETING: "/api/v1/meetings/{}",
    RecordType.MESSAGE: "/api/v1/care-messages/{}",
    RecordType.DEVIATION: "/api/v1/deviations/{}",
}


def link(record_type: RecordType, record_id: str) -> str:
    """The REST path that reads the record."""
    return _PATHS[record_type].format(record_id)


@dataclass(frozen=True, slots=True)
class Key:
    """A listed record's place in the list: the instant that placed it in the period, its id,
    and what tells apart two entries of one record (a notice's number, a recipient, a rate
    table)."""

    at: datetime
    record_id: str
    part: str

    def cursor(self) -> str:
        """The opaque cursor of the entries after this one."""
        text = json.dumps([self.at.astimezone(UTC).isoformat(), self.record_id, self.part])
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def parse_cursor(value: str) -> Key:
    """The key a cursor of `Key.cursor` names; anything else is refused naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        at, record_id, part = json.loads(raw)
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(record_id, str) or not isinstance(part, str):
            raise ValueError(value)
        moment = moment.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, binascii.Error) as err:
        raise InvalidInput("cursor is not one this list gave", field="cursor") from err
    return Key(moment, record_id, part)


@dataclass(slots=True)
class CountedRecord:
    """One entry of a cell: a record (or a notice or acknowledgement of it) the cell counted.

    ``person_id`` is None for a record about no person, and for a protected identity;
    ``value`` is the days, hours or minutes a distribution or liable days counted, and
    ``in_numerator`` whether a share's entry is in its numerator (it is always in the
    denominator); ``stratum`` the category or state of a deviation.
    """

    key: Key
    record_type: RecordType
    person_id: str | None
    unit_id: str | None
    municipality_id: str | None
    instants: dict[str, datetime | None]
    value: int | None = None
    in_numerator: bool | None = None
    stratum: str | None = None

    @property
    def link(self) -> str:
        """The REST path that reads the record."""
        return link(self.record_type, self.key.record_id)
