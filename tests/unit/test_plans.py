"""Plan rules: activation needs every element, consent decides sharing, follow-ups fall due."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.errors import IllegalTransition, Incomplete, InvalidInput
from app.domain.plans import (
    Consent,
    ConsentGiver,
    ConsentMethod,
    Coordinator,
    Goal,
    Initiator,
    InitiatorKind,
    Intervention,
    Plan,
    PlanContent,
    PlanStatus,
    Withdrawal,
    follow_up_windows,
    overdue_follow_ups,
    validate_content,
)
from app.domain.representatives import Representative, RepresentativeRole

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def complete_content() -> PlanContent:
    return PlanContent(
        title="SIP",
        goals=(Goal("g1", "Bo kvar hemma"),),
        interventions=(
            Intervention("i1", "Hemsjukvård", "kommun-0880-hemsjukvard", "kommun-0880", "dagligen"),
            Intervention("i2", "Läkarbesök", "region-kalmar-hc-kalmar", "region-kalmar"),
        ),
        responsible_principal_id="kommun-0880",
        coordinator=Coordinator("Anna", "kommun-0880-hemsjukvard", "kommun-0880"),
        start_date=date(2026, 3, 10),
        planned_end_date=date(2026, 12, 31),
        follow_up_dates=(date(2026, 6, 10), date(2026, 9, 10)),
    )


def draft(content: PlanContent | None = None) -> Plan:
    return Plan(
        id="plan-1",
        person_id="person-1",
        jurisdiction="SE",
        initiator=Initiator(InitiatorKind.UNIT, "kommun-0880-hemsjukvard"),
        initiating_principal_id="kommun-0880",
        content=content or PlanContent(title="SIP"),
        created_at=NOW,
    )


def consent(
    share_with: tuple[str, ...] = ("kommun-0880", "region-kalmar"),
    at: datetime = NOW,
    consent_id: str = "c1",
) -> Consent:
    return Consent(consent_id, ConsentGiver.PERSON, at, ConsentMethod.ORAL, share_with, "x")


def test_activation_lists_every_missing_element_at_once() -> None:
    plan = draft()
    with pytest.raises(Incomplete) as refusal:
        plan.activate(now=NOW)
    fields = [f for f, _m in refusal.value.problems]
    assert fields == [
        "consents",
        "goals",
        "interventions",
        "responsible_principal_id",
        "coordinator",
        "follow_up_dates",
        "start_date",
    ]
    assert plan.status is PlanStatus.DRAFT and plan.version == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"goals": ()}, "goals"),
        ({"interventions": (Intervention("i1", "x", None, None),)}, "interventions"),
        ({"coordinator": None}, "coordinator"),
        ({"follow_up_dates": ()}, "follow_up_dates"),
        ({"responsible_principal_id": None}, "responsible_principal_id"),
    ],
)
def test_each_required_element_blocks_activation_alone(
    change: dict[str, object], field: str
) -> None:
    plan = draft(replace(complete_content(), **change))  # type: ignore[arg-type]
    plan.add_consent(consent(), now=NOW)
    with pytest.raises(Incomplete) as refusal:
        plan.activate(now=NOW)
    assert [f for f, _m in refusal.value.problems] == [field]


def test_a_complete_plan_with_consent_activates() -> None:
    plan = draft(complete_content())
    plan.add_consent(consent(), now=NOW)
    plan.activate(now=NOW)
    assert plan.status is PlanStatus.ACTIVE and plan.version == 3


def test_consent_must_cover_every_principal_with_a_part() -> None:
    plan = draft(complete_content())
    plan.add_consent(consent(share_with=("kommun-0880",)), now=NOW)
    with pytest.raises(Incomplete) as refusal:
        plan.activate(now=NOW)
    assert refusal.value.problems == [
        ("consents", "consent to share the plan with region-kalmar, which has a part in it")
    ]


def test_coordinator_must_be_employed_by_an_involved_principal() -> None:
    content = replace(
        complete_content(), coordinator=Coordinator("Bo", "kommun-0861-hemtjanst", "kommun-0861")
    )
    plan = draft(content)
    plan.add_consent(consent(share_with=("kommun-0880", "region-kalmar", "kommun-0861")), now=NOW)
    with pytest.raises(Incomplete) as refusal:
        plan.activate(now=NOW)
    assert [f for f, _m in refusal.value.problems] == ["coordinator.unit_id"]


def test_sharing_follows_consent_and_withdrawal() -> None:
    plan = draft(complete_content())
    assert plan.sharing_principals() == {"kommun-0880"}
    plan.add_consent(consent(), now=NOW)
    assert plan.sharing_principals() == {"kommun-0880", "region-kalmar"}
    later = NOW + timedelta(days=30)
    plan.withdraw(Withdrawal("c1", later, ("region-kalmar",), "kommun-0880"), now=later)
    assert plan.sharing_principals() == {"kommun-0880"}
    assert plan.withdrawn_principals() == [("region-kalmar", later)]
    assert plan.status is PlanStatus.DRAFT  # a partial withdrawal does not end the plan


def test_full_withdrawal_cancels_the_plan_and_stops_all_sharing() -> None:
    plan = draft(complete_content())
    plan.add_consent(consent(), now=NOW)
    plan.activate(now=NOW)
    plan.withdraw(Withdrawal("c1", NOW, (), "region-kalmar"), now=NOW)
    assert plan.status is PlanStatus.CANCELLED and "consent withdrawn" in (plan.status_reason or "")
    assert plan.sharing_principals() == {"kommun-0880"}
    assert not plan.has_consent()


def test_withdrawal_names_only_principals_the_consent_shared_with() -> None:
    plan = draft()
    plan.add_consent(consent(share_with=("kommun-0880",)), now=NOW)
    with pytest.raises(InvalidInput) as refusal:
        plan.withdraw(Withdrawal("c1", NOW, ("region-kalmar",), "x"), now=NOW)
    assert refusal.value.field == "principal_ids"
    with pytest.raises(InvalidInput):
        plan.withdraw(Withdrawal("c1", NOW - timedelta(days=1), (), "x"), now=NOW)


def test_a_representative_consent_names_the_representative() -> None:
    plan = draft()
    unnamed = replace(consent(), given_by=ConsentGiver.LEGAL_REPRESENTATIVE)
    with pytest.raises(InvalidInput) as refusal:
        plan.add_consent(unnamed, now=NOW)
    assert refusal.value.field == "representatives"
    plan.add_consent(replace(unnamed, representative_name="Vårdnadshavare"), now=NOW)
    assert plan.consents[0].consenting_representatives == (Representative("Vårdnadshavare"),)


def test_a_childs_consent_records_both_guardians_each_once() -> None:
    plan = draft()
    guardians = (
        Representative("Maria Ek", RepresentativeRole.GUARDIAN),
        Representative("Johan Ek", RepresentativeRole.GUARDIAN),
    )
    both = replace(consent(), given_by=ConsentGiver.LEGAL_REPRESENTATIVE, representatives=guardians)
    with pytest.raises(InvalidInput) as twice:
        plan.add_consent(replace(both, representatives=guardians[:1] * 2), now=NOW)
    assert twice.value.field == "representatives[1]"
    with pytest.raises(InvalidInput) as own:
        plan.add_consent(replace(both, given_by=ConsentGiver.PERSON), now=NOW)
    assert own.value.field == "representatives"
    plan.add_consent(both, now=NOW)
    assert plan.consents[0].consenting_representatives == guardians
    assert plan.has_consent()


def test_an_active_plan_cannot_be_revised_into_an_incomplete_one() -> None:
    plan = draft(complete_content())
    plan.add_consent(consent(), now=NOW)
    plan.activate(now=NOW)
    with pytest.raises(Incomplete) as refusal:
        plan.revise(replace(complete_content(), goals=()), now=NOW)
    assert [f for f, _m in refusal.value.problems] == ["goals"]
    plan.revise(replace(complete_content(), title="SIP, reviderad"), now=NOW)
    assert plan.version == 4 and plan.content.title == "SIP, reviderad"


def test_closed_plans_cannot_change() -> None:
    plan = draft(complete_content())
    plan.cancel(now=NOW, reason="flyttat")
    for step in (
        lambda: plan.revise(complete_content(), now=NOW),
        lambda: plan.add_consent(consent(), now=NOW),
        lambda: plan.activate(now=NOW),
        lambda: plan.complete(now=NOW),
    ):
        with pytest.raises(IllegalTransition):
            step()


@pytest.mark.parametrize(
    ("content_change", "field"),
    [
        ({"planned_end_date": date(2026, 1, 1)}, "planned_end_date"),
        ({"follow_up_dates": (date(2026, 1, 1),)}, "follow_up_dates[0]"),
        ({"follow_up_dates": (date(2026, 9, 10), date(2026, 6, 10))}, "follow_up_dates"),
        ({"goals": (Goal("g1", "a"), Goal("g1", "b"))}, "goals[1].id"),
    ],
)
def test_contradictory_content_is_refused(content_change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as refusal:
        validate_content(replace(complete_content(), **content_change))  # type: ignore[arg-type]
    assert refusal.value.field == field


def test_follow_ups_fall_overdue_without_a_meeting_in_their_window() -> None:
    plan = draft(complete_content())
    plan.add_consent(consent(), now=NOW)
    plan.activate(now=NOW)
    today = date(2026, 10, 1)
    late = overdue_follow_ups(plan, [], today=today)
    assert [(o.follow_up_date, o.days_overdue) for o in late] == [
        (date(2026, 6, 10), 113),
        (date(2026, 9, 10), 21),
    ]
    # A meeting before the first follow-up answers for it; one after the second for that one.
    met = overdue_follow_ups(plan, [at(2026, 6, 1), at(2026, 9, 20)], today=today)
    assert met == []
    # One late meeting does not answer for two missed follow-ups.
    one = overdue_follow_ups(plan, [at(2026, 9, 20)], today=today)
    assert [o.follow_up_date for o in one] == [date(2026, 6, 10)]
    assert overdue_follow_ups(plan, [], today=date(2026, 6, 10)) == []
    plan.complete(now=NOW)
    assert overdue_follow_ups(plan, [], today=today) == []


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=UTC)


def test_a_meeting_falls_on_its_local_date() -> None:
    plan = draft(complete_content())
    plan.add_consent(consent(), now=NOW)
    plan.activate(now=NOW)
    # 00:30 on 11 September in Stockholm is 22:30 UTC on the 10th: the meeting is after the
    # second follow-up date, so it answers that one and leaves the first one overdue.
    half_past_midnight = datetime(2026, 9, 10, 22, 30, tzinfo=UTC)
    late = overdue_follow_ups(plan, [half_past_midnight], today=date(2026, 10, 1))
    assert [o.follow_up_date for o in late] == [date(2026, 6, 10)]
    # 23:30 on 10 September in Stockholm (21:30 UTC) is on the second date: it answers both.
    late = overdue_follow_ups(
        plan, [datetime(2026, 9, 10, 21, 30, tzinfo=UTC)], today=date(2026, 10, 1)
    )
    assert [o.follow_up_date for o in late] == []


def test_follow_up_windows_are_local_midnights() -> None:
    plan = draft(complete_content())
    first, second = follow_up_windows(plan)
    # Summer time in Stockholm: local midnight is 22:00 UTC the day before.
    assert first.due_at == datetime(2026, 6, 9, 22, 0, tzinfo=UTC)
    assert first.overdue_at == datetime(2026, 6, 10, 22, 0, tzinfo=UTC)
    assert first.answered_until == second.overdue_at == datetime(2026, 9, 10, 22, 0, tzinfo=UTC)
    assert second.answered_from == first.overdue_at
    assert second.answered_until is None
