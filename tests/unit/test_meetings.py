"""Meeting rules: replies, rescheduling, cancelling, and the three-day summons deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.errors import IllegalTransition, InvalidInput, NotFound
from app.domain.meetings import (
    DeadlineStatus,
    Meeting,
    MeetingStatus,
    Participant,
    ParticipantKind,
    Reply,
    check_participants,
    check_times,
    summons_deadline,
    summons_due_by,
)
from app.domain.representatives import RepresentativeRole

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START = datetime(2026, 3, 5, 13, 0, tzinfo=UTC)


def meeting() -> Meeting:
    return Meeting(
        id="m1",
        person_id="p",
        plan_id="plan",
        episode_id=None,
        organizer_id="region-kalmar-hc-kalmar",
        starts_at=START,
        reply_by=date(2026, 3, 4),
        sent_at=SENT,
        participants=[
            Participant("u1", ParticipantKind.UNIT, "kommun-0880-hemsjukvard"),
            Participant("me", ParticipantKind.PERSON),
        ],
        location="Vårdcentralen",
    )


def test_replies_accept_decline_with_reason_and_propose_a_time() -> None:
    m = meeting()
    m.answer("u1", Reply.ACCEPTED, at=SENT)
    with pytest.raises(InvalidInput) as no_reason:
        m.answer("me", Reply.DECLINED, at=SENT)
    assert no_reason.value.field == "reason"
    with pytest.raises(InvalidInput) as no_time:
        m.answer("me", Reply.PROPOSED, at=SENT)
    assert no_time.value.field == "proposed_start"
    m.answer("me", Reply.PROPOSED, at=SENT, proposed_start=START + timedelta(days=1))
    assert [p.reply for p in m.participants] == [Reply.ACCEPTED, Reply.PROPOSED]
    with pytest.raises(NotFound):
        m.answer("nobody", Reply.ACCEPTED, at=SENT)
    with pytest.raises(IllegalTransition):
        m.answer("u1", Reply.ACCEPTED, at=START)


def test_rescheduling_asks_everyone_again_and_cancelling_closes() -> None:
    m = meeting()
    m.answer("u1", Reply.ACCEPTED, at=SENT)
    m.reschedule(START + timedelta(days=2), date(2026, 3, 6), at=SENT)
    assert all(p.reply is Reply.PENDING for p in m.participants) and m.version == 3
    m.cancel("Patienten inlagd igen")
    assert m.status is MeetingStatus.CANCELLED
    with pytest.raises(IllegalTransition):
        m.answer("u1", Reply.ACCEPTED, at=SENT)
    with pytest.raises(IllegalTransition):
        m.reschedule(START, date(2026, 3, 4), at=SENT)


def test_a_held_meeting_records_attendance_and_minutes_and_closes() -> None:
    m = meeting()
    m.participants.append(
        Participant(
            "gm",
            ParticipantKind.LEGAL_REPRESENTATIVE,
            name="Gun Ek",
            representative_role=RepresentativeRole.TRUSTEE,
        )
    )
    check_participants(m.participants)
    m.answer("gm", Reply.ACCEPTED, at=SENT)
    after = START + timedelta(hours=2)
    with pytest.raises(InvalidInput) as future:
        m.mark_held(held_at=after, attended=["u1"], minutes=None, at=START)
    assert future.value.field == "held_at"
    with pytest.raises(InvalidInput) as early:
        m.mark_held(held_at=SENT - timedelta(1), attended=["u1"], minutes=None, at=after)
    assert early.value.field == "held_at"
    with pytest.raises(InvalidInput) as nobody:
        m.mark_held(held_at=START, attended=[], minutes=None, at=after)
    assert nobody.value.field == "attended"
    with pytest.raises(InvalidInput) as unknown:
        m.mark_held(held_at=START, attended=["u1", "x"], minutes=None, at=after)
    assert unknown.value.field == "attended[1]"
    m.mark_held(held_at=START, attended=["u1", "gm"], minutes="Beslut: hemsjukvård.", at=after)
    assert m.status is MeetingStatus.HELD and m.held_at == START
    assert [(p.id, p.attended) for p in m.participants] == [
        ("u1", True),
        ("me", False),
        ("gm", True),
    ]
    assert m.participant("gm").reply is Reply.ACCEPTED
    for change in (
        lambda: m.cancel("för sent"),
        lambda: m.mark_held(held_at=START, attended=["u1"], minutes=None, at=after),
        lambda: m.reschedule(after + timedelta(days=1), after.date(), at=after),
    ):
        with pytest.raises(IllegalTransition):
            change()


def test_a_legal_representative_is_named_with_the_ground_they_act_on() -> None:
    unnamed = Participant(
        "r",
        ParticipantKind.LEGAL_REPRESENTATIVE,
        representative_role=RepresentativeRole.GUARDIAN,
    )
    with pytest.raises(InvalidInput) as no_name:
        check_participants([unnamed])
    assert no_name.value.field == "participants[0].name"
    with pytest.raises(InvalidInput) as no_role:
        check_participants([Participant("r", ParticipantKind.LEGAL_REPRESENTATIVE, name="X")])
    assert no_role.value.field == "participants[0].representative_role"


@pytest.mark.parametrize(
    ("starts_at", "reply_by", "field"),
    [
        (SENT - timedelta(hours=1), date(2026, 3, 1), "starts_at"),
        (START, date(2026, 3, 6), "reply_by"),
        (START, date(2026, 3, 1), "reply_by"),
    ],
)
def test_summons_times_must_make_sense(starts_at: datetime, reply_by: date, field: str) -> None:
    with pytest.raises(InvalidInput) as refusal:
        check_times(starts_at, reply_by, SENT)
    assert refusal.value.field == field


def test_participants_are_named_and_unique() -> None:
    with pytest.raises(InvalidInput) as staff:
        check_participants([Participant("s", ParticipantKind.STAFF, "unit-x")])
    assert staff.value.field == "participants[0].name"
    with pytest.raises(InvalidInput) as unit:
        check_participants([Participant("u", ParticipantKind.UNIT)])
    assert unit.value.field == "participants[0].organization_id"
    with pytest.raises(InvalidInput) as twice:
        check_participants(
            [Participant("a", ParticipantKind.PERSON), Participant("a", ParticipantKind.PERSON)]
        )
    assert twice.value.field == "participants[1].id"


def test_the_summons_is_due_by_the_end_of_the_third_day_in_local_time() -> None:
    # Discharge-ready Thursday 2026-03-05 at 23:30 Stockholm time (22:30 UTC).
    ready = datetime(2026, 3, 5, 22, 30, tzinfo=UTC)
    due = summons_due_by(ready, "SE")
    assert due.isoformat() == "2026-03-09T00:00:00+01:00"


@pytest.mark.parametrize(
    ("summonses", "withdrawn", "now", "status"),
    [
        ([], None, datetime(2026, 3, 6, tzinfo=UTC), DeadlineStatus.OPEN),
        (
            [datetime(2026, 3, 7, tzinfo=UTC)],
            None,
            datetime(2026, 3, 20, tzinfo=UTC),
            DeadlineStatus.MET,
        ),
        (
            [datetime(2026, 3, 10, tzinfo=UTC)],
            None,
            datetime(2026, 3, 20, tzinfo=UTC),
            DeadlineStatus.LATE,
        ),
        ([], None, datetime(2026, 3, 9, tzinfo=UTC), DeadlineStatus.BREACHED),
        (
            [],
            datetime(2026, 3, 6, tzinfo=UTC),
            datetime(2026, 3, 20, tzinfo=UTC),
            DeadlineStatus.LAPSED,
        ),
        # a summons sent before the notice does not count for it
        (
            [datetime(2026, 3, 1, tzinfo=UTC)],
            None,
            datetime(2026, 3, 20, tzinfo=UTC),
            DeadlineStatus.BREACHED,
        ),
    ],
)
def test_deadline_status(
    summonses: list[datetime], withdrawn: datetime | None, now: datetime, status: DeadlineStatus
) -> None:
    deadline = summons_deadline(
        episode_id="e",
        person_id="p",
        jurisdiction="SE",
        discharge_ready_at=datetime(2026, 3, 5, 10, 0, tzinfo=UTC),
        withdrawn_at=withdrawn,
        summons_times=summonses,
        now=now,
    )
    assert deadline.status is status
