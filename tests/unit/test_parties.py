"""The parties of records and the reach of callers: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.domain.episodes import AdmissionType, CareType, Episode
from app.domain.organizations import Jurisdiction, Organization, OrgKind
from app.domain.parties import (
    Party,
    Reach,
    RecordType,
    Role,
    detail_holders,
    episode_parties,
    is_party,
    plan_parties,
    sees_details,
)
from app.domain.plans import (
    Consent,
    ConsentGiver,
    ConsentMethod,
    Coordinator,
    Initiator,
    InitiatorKind,
    Intervention,
    Plan,
    PlanContent,
    Withdrawal,
)
from app.domain.staff import PractitionerRole, StaffRole, handling_role

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)
PRINCIPALS = {
    "region-n-med": "region-n",
    "region-n-psyk": "region-n",
    "region-n-hc": "region-n",
    "kommun-a-hsv": "kommun-a",
    "kommun-a-lss": "kommun-a",
    "region-x-med": "region-x",
}


def party(kind: RecordType, record: str, org: str, role: Role) -> Party:
    return Party(kind, record, org, PRINCIPALS.get(org, org), role)


def test_a_units_reach_is_its_unit_and_a_principals_every_unit() -> None:
    unit = Reach.of("region-n-med", "region-n", None)
    assert unit.matches("region-n-med", "region-n")
    assert not unit.matches("region-n-psyk", "region-n")
    assert not unit.matches("region-n", "region-n")  # the principal's own record is not the unit's
    principal = Reach.of("region-n", "region-n", None)
    assert principal.matches("region-n-psyk", "region-n") and principal.matches(
        "region-n", "region-n"
    )
    assert not principal.matches("kommun-a", "kommun-a")
    acting = Reach.of("region-n", "region-n", "region-n-psyk")
    assert acting.matches("region-n-psyk", "region-n") and acting.matches("region-n", "region-n")
    assert not acting.matches("region-n-med", "region-n")


def test_an_episodes_receiver_is_the_municipality_until_it_names_its_units() -> None:
    episode = Episode(
        id="e",
        person_id="p",
        hospital_unit_id="region-n-med",
        region_id="region-n",
        municipality_id="kommun-a",
        primary_care_unit_id="region-n-hc",
        jurisdiction="SE",
        admitted_at=NOW,
        admission_type=AdmissionType.ACUTE,
        care_type=CareType.SOMATIC,
    )
    assert episode_parties(episode) == [
        ("region-n-med", Role.HOSPITAL),
        ("kommun-a", Role.RECEIVER),
        ("region-n-hc", Role.PRIMARY_CARE),
    ]
    episode.send_admission_notice(NOW, now=NOW)
    episode.declare_discharge_ready(NOW, now=NOW)
    episode.record_municipality_response(NOW, date(2026, 3, 4), now=NOW, units=("kommun-a-hsv",))
    assert ("kommun-a-hsv", Role.RECEIVER) in episode_parties(episode)
    assert ("kommun-a", Role.RECEIVER) not in episode_parties(episode)


def test_a_plans_units_are_parties_only_once_their_principal_is_consented_to() -> None:
    plan = Plan(
        id="plan",
        person_id="p",
        jurisdiction="SE",
        initiator=Initiator(InitiatorKind.UNIT, "region-n-hc"),
        initiating_principal_id="region-n",
        content=PlanContent(
            title="SIP",
            interventions=(Intervention("i", "x", "kommun-a-hsv", "kommun-a"),),
            coordinator=Coordinator("Anna", "kommun-a-hsv", "kommun-a"),
        ),
        created_at=NOW,
    )
    assert plan_parties(plan) == [("region-n-hc", Role.INITIATOR), ("region-n", Role.PARTICIPANT)]
    plan.add_consent(
        Consent("c", ConsentGiver.PERSON, NOW, ConsentMethod.ORAL, ("kommun-a",), "region-n-hc"),
        now=NOW,
    )
    assert set(plan_parties(plan)) == {
        ("region-n-hc", Role.INITIATOR),
        ("region-n", Role.PARTICIPANT),
        ("kommun-a", Role.PARTICIPANT),
        ("kommun-a-hsv", Role.RESPONSIBLE),
        ("kommun-a-hsv", Role.COORDINATOR),
    }
    plan.withdraw(Withdrawal("c", NOW, ("kommun-a",), "region-n-hc"), now=NOW)
    assert {org for org, _role in plan_parties(plan)} == {"region-n-hc", "region-n"}


def hospital_story() -> list[Party]:
    """A ward registered the person and admitted them; the municipality received the notices."""
    return [
        party(RecordType.REGISTRATION, "p", "region-n-med", Role.REGISTRANT),
        party(RecordType.EPISODE, "e", "region-n-med", Role.HOSPITAL),
        party(RecordType.EPISODE, "e", "kommun-a", Role.RECEIVER),
    ]


def test_details_follow_the_records_their_knowers_are_the_source_of() -> None:
    parties = hospital_story()
    # The municipality initiates a plan and shares it with another region: it passes them on.
    parties += [
        party(RecordType.PLAN, "plan", "kommun-a", Role.INITIATOR),
        party(RecordType.PLAN, "plan", "region-x", Role.PARTICIPANT),
    ]
    assert detail_holders(parties) == {"region-n-med", "kommun-a", "region-x"}
    for reach in (Reach.of("kommun-a", "kommun-a", None), Reach.of("region-x", "region-x", None)):
        assert sees_details(parties, reach, protected=False)


def test_a_record_of_ones_own_opens_no_details() -> None:
    parties = hospital_story()
    # A ward of another region admits the person to its own ward, naming the municipality that
    # knows the details as receiver: its own record, whose source it is, passes nothing to it.
    parties += [
        party(RecordType.EPISODE, "mine", "region-x-med", Role.HOSPITAL),
        party(RecordType.EPISODE, "mine", "kommun-a", Role.RECEIVER),
        party(RecordType.PLAN, "plan", "kommun-b", Role.INITIATOR),
    ]
    assert "region-x-med" not in detail_holders(parties)
    for stranger in (("region-x-med", "region-x"), ("kommun-b", "kommun-b")):
        reach = Reach.of(stranger[0], stranger[1], None)
        assert is_party(parties, reach) and not sees_details(parties, reach, protected=False)


def test_a_unit_knows_what_its_principal_registered_but_not_what_a_sister_unit_did() -> None:
    by_unit = [*hospital_story(), party(RecordType.EPISODE, "psy", "region-n-psyk", Role.HOSPITAL)]
    psych = Reach.of("region-n-psyk", "region-n", None)
    assert not sees_details(by_unit, psych, protected=False)
    by_principal = [
        party(RecordType.REGISTRATION, "p", "region-n", Role.REGISTRANT),
        *by_unit[1:],
    ]
    assert sees_details(by_principal, psych, protected=False)


def test_a_protected_identitys_details_reach_only_knowing_parties_that_must_act() -> None:
    parties = [
        *hospital_story(),
        party(RecordType.MESSAGE, "m", "region-n-med", Role.SENDER),
        party(RecordType.MESSAGE, "m", "kommun-a-lss", Role.RECIPIENT),
    ]
    municipality = Reach.of("kommun-a", "kommun-a", None)
    lss = Reach.of("kommun-a-lss", "kommun-a", None)
    assert sees_details(parties, municipality, protected=True)  # the receiver acts
    assert sees_details(parties, lss, protected=False)  # told by the ward, it knows them
    assert not sees_details(parties, lss, protected=True)  # but a recipient need not act


def test_deviations_go_to_the_municipalitys_mas_else_its_handler() -> None:
    municipality = Organization("kommun-a", OrgKind.MUNICIPALITY, "A", Jurisdiction.SE)
    region = Organization("region-n", OrgKind.REGION, "N", Jurisdiction.SE)
    roles = [
        PractitionerRole("r2", "p2", "kommun-a-soc", "kommun-a", StaffRole.DEVIATION_HANDLER),
        PractitionerRole("r1", "p1", "kommun-a-hsv", "kommun-a", StaffRole.MAS),
        PractitionerRole("r0", "p0", "kommun-a-hsv", "kommun-a", StaffRole.MAS, active=False),
    ]
    assert handling_role(roles, municipality) == roles[1]
    assert handling_role(roles[:1], municipality) == roles[0]
    # A region has no MAS: its patient-safety function handles.
    assert handling_role(roles[1:], region) is None
