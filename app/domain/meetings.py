"""Planning meetings: the summons, the participants' replies, rescheduling and cancelling.

A summons names the plan or the episode it follows, the time, a place or a video link, the
participants (units, named staff, the person, relatives, legal representatives) and a reply-by
date. Participants accept, decline with a reason, or propose another time; the organizer sees the
replies and may reschedule (which asks everyone again) or cancel (DESIGN §5). Once the meeting has
taken place the organizer marks it held, with who attended and short minutes: only a held meeting
answers a plan's follow-up date.

In Sweden, when both region and municipality must provide services after a discharge, the fixed
care contact sends the summons within three days of the discharge-ready notice (lag 2017:612
4 kap.; DESIGN §4). ``summons_deadline`` computes that deadline and whether it was kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from app.domain.episodes import ZONES, check_aware
from app.domain.errors import IllegalTransition, InvalidInput, NotFound
from app.domain.representatives import RepresentativeRole
from app.domain.values import check_chosen

SUMMONS_DAYS = 3


class MeetingStatus(StrEnum):
    """A meeting is summoned (possibly rescheduled), then held or cancelled."""

    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class ParticipantKind(StrEnum):
    """Who is asked to take part."""

    UNIT = "unit"
    STAFF = "staff"
    PERSON = "person"
    RELATIVE = "relative"
    LEGAL_REPRESENTATIVE = "legal-representative"


# Participants who take part for or beside the person, and so only with the person's consent to
# the plan (a representative's own consent counts: it is given for the person).
PRIVATE_KINDS = frozenset({ParticipantKind.RELATIVE, ParticipantKind.LEGAL_REPRESENTATIVE})
MINUTES_MAX = 4000


class Reply(StrEnum):
    """A participant's answer to the summons."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    PROPOSED = "proposed-new-time"


@dataclass(frozen=True, slots=True)
class Participant:
    """One participant and their reply."""

    id: str
    kind: ParticipantKind
    organization_id: str | None = None
    name: str | None = None
    reply: Reply = Reply.PENDING
    reason: str | None = None
    proposed_start: datetime | None = None
    replied_at: datetime | None = None
    representative_role: RepresentativeRole | None = None
    attended: bool | None = None


@dataclass(slots=True)
class Meeting:
    """A summoned planning meeting."""

    id: str
    person_id: str
    plan_id: str | None
    episode_id: str | None
    organizer_id: str
    starts_at: datetime
    reply_by: date
    sent_at: datetime
    participants: list[Participant]
    location: str | None = None
    video_link: str | None = None
    status: MeetingStatus = MeetingStatus.SCHEDULED
    cancel_reason: str | None = None
    version: int = 1
    duration_minutes: int = 60
    held_at: datetime | None = None
    minutes: str | None = None
    # When this version was written (the store sets it; FHIR's meta.lastUpdated).
    updated_at: datetime | None = None

    @property
    def last_changed_at(self) -> datetime:
        """When this version was written (a meeting not yet stored: when it was sent)."""
        return self.updated_at or self.sent_at

    @property
    def ends_at(self) -> datetime:
        """When the meeting is planned to end (at the latest representable moment, for a start
        stored before the edge bounded instants, issue 14)."""
        try:
            return self.starts_at + timedelta(minutes=self.duration_minutes)
        except OverflowError:
            return datetime.max.replace(tzinfo=self.starts_at.tzinfo)

    def participant(self, participant_id: str) -> Participant:
        """The participant with this id."""
        for participant in self.participants:
            if participant.id == participant_id:
                return participant
        raise NotFound(f"meeting {self.id} has no participant {participant_id}")

    def _open(self, what: str) -> None:
        if self.status is not MeetingStatus.SCHEDULED:
            raise IllegalTransition(
                f"meeting {self.id} was {self.status.value}; {what} is not possible"
            )

    def answer(
        self,
        participant_id: str,
        reply: Reply,
        *,
        at: datetime,
        reason: str | None = None,
        proposed_start: datetime | None = None,
    ) -> None:
        """Record a participant's reply; a decline needs a reason, a proposal a new time."""
        self._open("a reply")
        if at >= self.starts_at:
            raise IllegalTransition(f"meeting {self.id} has already begun; replies are closed")
        if reply is Reply.PENDING:
            raise InvalidInput("a reply is accepted, declined or proposed-new-time", field="reply")
        if reply is Reply.DECLINED and not reason:
            raise InvalidInput("a decline gives a reason", field="reason")
        if reply is Reply.PROPOSED:
            if proposed_start is None:
                raise InvalidInput("a proposal names a new start time", field="proposed_start")
            if proposed_start <= at:
                raise InvalidInput("the proposed time has passed", field="proposed_start")
        elif proposed_start is not None:
            raise InvalidInput(
                "proposed_start goes with the reply proposed-new-time", field="proposed_start"
            )
        current = self.participant(participant_id)
        answered = replace(
            current, reply=reply, reason=reason, proposed_start=proposed_start, replied_at=at
        )
        self.participants = [answered if p.id == participant_id else p for p in self.participants]
        self.version += 1

    def reschedule(self, starts_at: datetime, reply_by: date, *, at: datetime) -> None:
        """Move the meeting; every participant is asked again."""
        self._open("rescheduling")
        check_times(starts_at, reply_by, at)
        self.starts_at = starts_at
        self.reply_by = reply_by
        self.participants = [
            Participant(
                p.id, p.kind, p.organization_id, p.name, representative_role=p.representative_role
            )
            for p in self.participants
        ]
        self.version += 1

    def mark_held(
        self, *, held_at: datetime, attended: list[str], minutes: str | None, at: datetime
    ) -> None:
        """Record that the meeting took place at ``held_at``, who of the participants attended,
        and short minutes. It cannot be held before it was summoned or after ``at`` (now)."""
        self._open("marking it held")
        check_aware(held_at, "held_at")
        if held_at > at:
            raise InvalidInput(
                "held_at is in the future; mark a meeting held after it", field="held_at"
            )
        if held_at < self.sent_at:
            raise InvalidInput("held_at is before the summons was sent", field="held_at")
        if not attended:
            raise InvalidInput("a held meeting had at least one participant", field="attended")
        check_chosen(
            attended,
            {p.id for p in self.participants},
            "attended",
            unknown=lambda participant_id: f"meeting {self.id} has no participant {participant_id}",
            twice="a participant is listed twice",
        )
        if minutes is not None and len(minutes) > MINUTES_MAX:
            raise InvalidInput(f"minutes are at most {MINUTES_MAX} characters", field="minutes")
        present = set(attended)
        self.participants = [replace(p, attended=p.id in present) for p in self.participants]
        self.status = MeetingStatus.HELD
        self.held_at = held_at
        self.minutes = minutes or None
        self.version += 1

    def cancel(self, reason: str) -> None:
        """Call the meeting off."""
        self._open("cancelling")
        self.status = MeetingStatus.CANCELLED
        self.cancel_reason = reason
        self.version += 1


def check_times(starts_at: datetime, reply_by: date, sent_at: datetime) -> None:
    """The meeting lies ahead, and the replies are due before it and not before the summons."""
    check_aware(starts_at, "starts_at")
    if starts_at <= sent_at:
        raise InvalidInput(
            "starts_at has passed; a summons is for a meeting ahead", field="starts_at"
        )
    if reply_by > starts_at.date():
        raise InvalidInput("reply_by is after the meeting", field="reply_by")
    if reply_by < sent_at.date():
        raise InvalidInput("reply_by has passed", field="reply_by")


def check_participants(participants: list[Participant]) -> None:
    """Units and staff name their organization; staff, relatives are named; ids are unique."""
    if not participants:
        raise InvalidInput("a summons has at least one participant", field="participants")
    seen: set[str] = set()
    for index, participant in enumerate(participants):
        where = f"participants[{index}]"
        if participant.id in seen:
            raise InvalidInput(
                f"participant id {participant.id} is used twice", field=f"{where}.id"
            )
        seen.add(participant.id)
        if participant.kind in (ParticipantKind.UNIT, ParticipantKind.STAFF):
            if not participant.organization_id:
                raise InvalidInput(
                    f"a {participant.kind.value} participant names its organization",
                    field=f"{where}.organization_id",
                )
        if participant.kind in (
            ParticipantKind.STAFF,
            ParticipantKind.RELATIVE,
            ParticipantKind.LEGAL_REPRESENTATIVE,
        ):
            if not participant.name:
                raise InvalidInput(
                    f"a {participant.kind.value} participant is named", field=f"{where}.name"
                )
        if participant.kind is ParticipantKind.LEGAL_REPRESENTATIVE:
            if participant.representative_role is None:
                raise InvalidInput(
                    "a legal representative says on what ground they act (guardian, trustee, "
                    "administrator, adult-guardian)",
                    field=f"{where}.representative_role",
                )
            if participant.organization_id is not None:
                raise InvalidInput(
                    "a legal representative takes part for the person, not for an organization",
                    field=f"{where}.organization_id",
                )
        elif participant.representative_role is not None:
            raise InvalidInput(
                "representative_role goes with the kind legal-representative",
                field=f"{where}.representative_role",
            )


class DeadlineStatus(StrEnum):
    """Whether the summons after a discharge-ready notice went out in time."""

    OPEN = "open"
    MET = "met"
    LATE = "late"
    BREACHED = "breached"
    LAPSED = "lapsed"


@dataclass(frozen=True, slots=True)
class SummonsDeadline:
    """The summons deadline of one discharge-ready notice that required coordinated planning."""

    episode_id: str
    person_id: str
    discharge_ready_at: datetime
    due_by: datetime
    summons_sent_at: datetime | None
    status: DeadlineStatus


def summons_due_by(discharge_ready_at: datetime, jurisdiction: str) -> datetime:
    """End of the third calendar day after the notice, in the jurisdiction's local time."""
    zone = ZONES[jurisdiction]
    local_day = discharge_ready_at.astimezone(zone).date() + timedelta(days=SUMMONS_DAYS + 1)
    return datetime.combine(local_day, time(0, 0), tzinfo=zone)


def summons_deadline(
    *,
    episode_id: str,
    person_id: str,
    jurisdiction: str,
    discharge_ready_at: datetime,
    withdrawn_at: datetime | None,
    summons_times: list[datetime],
    now: datetime,
) -> SummonsDeadline:
    """Whether a summons followed the discharge-ready notice within three days.

    ``summons_times`` are when summonses (not cancelled) for the episode or the person's plans
    were sent. A withdrawal before any summons and before the deadline lifts the duty (lapsed).
    """
    due = summons_due_by(discharge_ready_at, jurisdiction)
    sent = min((t for t in summons_times if t >= discharge_ready_at), default=None)
    if sent is not None:
        status = DeadlineStatus.MET if sent < due else DeadlineStatus.LATE
    elif withdrawn_at is not None and withdrawn_at < due:
        status = DeadlineStatus.LAPSED
    elif now >= due:
        status = DeadlineStatus.BREACHED
    else:
        status = DeadlineStatus.OPEN
    return SummonsDeadline(episode_id, person_id, discharge_ready_at, due, sent, status)
