"""The episode state machine, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.episodes import (
    AdmissionType,
    CareType,
    Episode,
    EpisodeState,
    find_readmission_source,
)
from app.domain.errors import IllegalTransition, InvalidInput
from app.domain.handover import Answer
from app.services import commands
from app.services.notice_handlers import apply_notice, notice_facts

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=60)


def episode() -> Episode:
    return Episode(
        id="e1",
        person_id="p1",
        hospital_unit_id="ward",
        region_id="r",
        municipality_id="m",
        primary_care_unit_id=None,
        jurisdiction="SE",
        admitted_at=T0,
        admission_type=AdmissionType.ACUTE,
        care_type=CareType.SOMATIC,
    )


def test_discharge_ready_needs_the_admission_notice_first() -> None:
    ep = episode()
    with pytest.raises(IllegalTransition, match="no admission notice"):
        ep.declare_discharge_ready(T0 + timedelta(hours=1), now=NOW)
    assert ep.events == [] and ep.state is EpisodeState.ADMITTED


def test_withdrawal_returns_to_planning_and_a_new_notice_starts_a_new_clock() -> None:
    ep = episode()
    ep.send_admission_notice(T0 + timedelta(hours=1), now=NOW)
    ep.declare_discharge_ready(T0 + timedelta(days=1), now=NOW)
    assert ep.discharge_ready_since == T0 + timedelta(days=1)
    ep.withdraw_discharge_ready(T0 + timedelta(days=2), now=NOW)
    assert ep.state is EpisodeState.PLANNING and ep.discharge_ready_since is None
    ep.declare_discharge_ready(T0 + timedelta(days=3), now=NOW)
    assert ep.discharge_ready_since == T0 + timedelta(days=3)


def test_a_second_discharge_ready_notice_needs_a_withdrawal() -> None:
    ep = episode()
    ep.send_admission_notice(T0 + timedelta(hours=1), now=NOW)
    ep.declare_discharge_ready(T0 + timedelta(days=1), now=NOW)
    with pytest.raises(IllegalTransition, match="withdraw"):
        ep.declare_discharge_ready(T0 + timedelta(days=2), now=NOW)


def test_discharge_closes_the_episode_once() -> None:
    ep = episode()
    ep.discharge(T0 + timedelta(days=1), now=NOW)
    assert ep.state is EpisodeState.DISCHARGED
    with pytest.raises(IllegalTransition, match="discharged once"):
        ep.discharge(T0 + timedelta(days=2), now=NOW)
    with pytest.raises(IllegalTransition):
        ep.change_expected_discharge(T0 + timedelta(days=2), T0.date(), now=NOW)


def test_municipality_response_answers_a_discharge_ready_notice() -> None:
    ep = episode()
    ep.send_admission_notice(T0 + timedelta(hours=1), now=NOW)
    with pytest.raises(IllegalTransition, match="none is in force"):
        ep.record_municipality_response(T0 + timedelta(hours=2), T0.date(), now=NOW)


def test_notice_times_must_be_aware_ordered_and_not_in_the_future() -> None:
    ep = episode()
    with pytest.raises(InvalidInput, match="UTC offset"):
        ep.send_admission_notice(datetime(2026, 1, 10, 12, 0), now=NOW)
    with pytest.raises(InvalidInput, match="before the admission"):
        ep.send_admission_notice(T0 - timedelta(minutes=1), now=NOW)
    with pytest.raises(InvalidInput, match="in the future"):
        ep.send_admission_notice(NOW + timedelta(hours=1), now=NOW)
    ep.send_admission_notice(T0 + timedelta(hours=5), now=NOW)
    with pytest.raises(InvalidInput, match="before the previous notice"):
        ep.declare_discharge_ready(T0 + timedelta(hours=4), now=NOW)


def test_decision_after_the_notice_or_without_offset_is_refused() -> None:
    ep = episode()
    ep.send_admission_notice(T0 + timedelta(hours=1), now=NOW)
    with pytest.raises(InvalidInput, match="decided_at is after"):
        ep.declare_discharge_ready(
            T0 + timedelta(days=1), now=NOW, decided_at=T0 + timedelta(days=2)
        )
    with pytest.raises(InvalidInput, match="UTC offset"):
        ep.declare_discharge_ready(
            T0 + timedelta(days=1), now=NOW, decided_at=datetime(2026, 1, 11)
        )


def test_readmission_window_is_30_days_and_picks_the_latest_discharge() -> None:
    discharges = [("a", T0), ("b", T0 + timedelta(days=5))]
    assert find_readmission_source(T0 + timedelta(days=35), discharges) == "b"
    assert find_readmission_source(T0 + timedelta(days=35, seconds=1), discharges) is None
    assert find_readmission_source(T0 + timedelta(days=3), discharges) == "a"
    assert find_readmission_source(T0 - timedelta(days=1), discharges) is None


def test_each_notice_command_is_applied_by_its_own_handler_and_says_its_facts() -> None:
    ep = episode()
    walk = [
        (commands.SendAdmissionNotice(), EpisodeState.PLANNING, {}),
        (
            commands.ChangeExpectedDischarge(expected_discharge_date=date(2026, 1, 20)),
            EpisodeState.PLANNING,
            {"expected_discharge_date": "2026-01-20"},
        ),
        (
            commands.DeclareDischargeReady(coordinated_planning=True),
            EpisodeState.DISCHARGE_READY,
            {"decided_at": (T0 + timedelta(hours=3)).isoformat(), "coordinated_planning": True},
        ),
        (commands.WithdrawDischargeReady(), EpisodeState.PLANNING, {}),
        (commands.DeclareDischargeReady(), EpisodeState.DISCHARGE_READY, None),
        (
            commands.RecordMunicipalityResponse(
                answer=Answer.CANNOT_RECEIVE_YET, reason="no place yet", services=("home-care",)
            ),
            EpisodeState.DISCHARGE_READY,
            {"answer": "cannot-receive-yet", "planned_services": ["home-care"]},
        ),
        (commands.Discharge(), EpisodeState.DISCHARGED, {}),
        (
            commands.ConfirmServicesStarted(services=("home-care",)),
            EpisodeState.DISCHARGED,
            {"arrived_at": (T0 + timedelta(hours=8)).isoformat(), "services": ["home-care"]},
        ),
    ]
    for hours, (command, state, facts) in enumerate(walk, start=1):
        event = apply_notice(ep, command, T0 + timedelta(hours=hours), NOW)
        assert (event.kind, ep.state) == (command.kind, state)
        if facts is not None:
            assert notice_facts(event) == facts
    assert ep.latest_answer is not None and ep.latest_answer.reason == "no place yet"


def test_a_handler_checks_what_its_command_carries() -> None:
    ep = episode()
    apply_notice(ep, commands.SendAdmissionNotice(), T0 + timedelta(hours=1), NOW)
    with pytest.raises(InvalidInput) as refused:
        apply_notice(
            ep,
            commands.DeclareDischargeReady(decided_at=datetime(2026, 1, 10, 9, 30)),
            T0 + timedelta(hours=2),
            NOW,
        )
    assert refused.value.field == "decided_at"
    apply_notice(ep, commands.DeclareDischargeReady(), T0 + timedelta(hours=2), NOW)
    with pytest.raises(InvalidInput) as refused:
        apply_notice(
            ep,
            commands.RecordMunicipalityResponse(
                can_receive_from=date(2026, 1, 12), services=("spa",)
            ),
            T0 + timedelta(hours=3),
            NOW,
        )
    assert refused.value.field is not None and refused.value.field.startswith("planned_services")
