"""The CarePlan mapping: the service's extensions (what has no element of its own), and the
whole plan read back from the validated model as ``to_fhir`` wrote it, or as a client sends a
new one (goals, care team and coordinator contained)."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.careplan import CarePlan

from app.domain.errors import InvalidInput, Malformed
from app.domain.plans import Basis, BasisKind, Goal, OtherContribution, Plan
from app.fhir.conformance import EXTENSIONS
from app.fhir.mappers import careplan, careteam
from app.fhir.mappers import goal as goal_mapper
from app.fhir.writes import validate_as
from app.services.plans import ContentInput, CoordinatorInput, InterventionInput
from tests.unit.test_plans import complete_content, draft


def _plan(*extensions: dict[str, Any], note: str | None = None) -> CarePlan:
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "subject": {"reference": "Patient/person-1"},
        "title": "SIP",
    }
    if extensions:
        resource["extension"] = list(extensions)
    if note is not None:
        resource["note"] = [{"text": note}]
    return validate_as(resource, CarePlan)


def test_needs_resources_others_and_basis_are_read_from_extensions() -> None:
    content = careplan.from_fhir(
        _plan(
            {"url": careplan.NEED, "valueString": "Trygghetslarm"},
            {"url": careplan.RESOURCE, "valueString": "Maken"},
            careplan._parts(
                careplan.OTHER, who="Svea", relation="granne", contribution="Tittar in"
            ),
            careplan._parts(
                careplan.BASIS, kind="lss-plan", reference="LSS 1", description="Boende"
            ),
        )
    )
    assert content.needs == ("Trygghetslarm",) and content.resources == ("Maken",)
    assert [(o.who, o.relation, o.contribution) for o in content.others] == [
        ("Svea", "granne", "Tittar in")
    ]
    assert [(b.kind.value, b.reference, b.description) for b in content.basis] == [
        ("lss-plan", "LSS 1", "Boende")
    ]


def test_text_in_notes_is_narrative_and_not_read_as_content() -> None:
    content = careplan.from_fhir(_plan(note="Need: Trygghetslarm"))
    assert content.needs == () and content.others == ()


@pytest.mark.parametrize(
    ("extension", "said"),
    [
        ({"url": careplan.NEED, "valueInteger": 3}, "valueString"),
        ({"url": careplan.NEED, "valueString": "  "}, "valueString"),
        (careplan._parts(careplan.OTHER, who="Svea", relation="granne"), "contribution"),
        (careplan._parts(careplan.BASIS, kind="lss-plan"), "reference"),
        (careplan._parts(careplan.BASIS, kind="dagbok", reference="1"), "plan-basis kind"),
    ],
)
def test_a_malformed_content_extension_is_refused_naming_it(
    extension: dict[str, Any], said: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        careplan.from_fhir(_plan({"url": careplan.FOLLOW_UP, "valueDate": "2026-01-01"}, extension))
    assert said in refused.value.message
    assert (refused.value.field or "").startswith("CarePlan.extension[1]")


def test_every_content_extension_is_defined_for_careplan() -> None:
    for url in (careplan.NEED, careplan.RESOURCE, careplan.OTHER, careplan.BASIS):
        assert EXTENSIONS[url.rsplit("/", 1)[1]].context == "CarePlan"


def _full_plan() -> Plan:
    """A plan with every element the CarePlan carries."""
    content = complete_content()
    assert content.coordinator is not None
    return draft(
        replace(
            content,
            goals=(Goal("g1", "Bo kvar hemma", date(2026, 6, 1)), Goal("g2", "Gå ut dagligen")),
            resources=("Maken", "Rollator"),
            needs=("Trygghetslarm",),
            others=(OtherContribution("Svea", "granne", "Tittar in"),),
            coordinator=replace(content.coordinator, practitioner_role_id="role-7"),
            basis=(Basis(BasisKind.LSS_PLAN, "LSS 1", "Boende"),),
            episode_id="episode-3",
        )
    )


def _expected(plan: Plan, coordinator: CoordinatorInput | None) -> ContentInput:
    """The plan's content as a client sends it (interventions and coordinator by unit)."""
    content = plan.content
    same = {f.name: getattr(content, f.name) for f in fields(ContentInput)}
    interventions = tuple(
        InterventionInput(i.id, i.description, i.responsible_unit_id, i.frequency)
        for i in content.interventions
    )
    return ContentInput(**{**same, "interventions": interventions, "coordinator": coordinator})


def test_a_plan_with_every_element_round_trips_through_the_validated_model() -> None:
    """to_fhir → validate → from_fhir: a revision sent back as read keeps the plan's own Goals
    and CareTeam by reference, and reads everything else from the CarePlan."""
    plan = _full_plan()
    kept = plan.content.coordinator
    assert kept is not None
    read = careplan.from_fhir(validate_as(careplan.to_fhir(plan), CarePlan), plan)
    assert read == _expected(
        plan,
        CoordinatorInput(
            kept.name, kept.unit_id, kept.title, kept.chosen_with_person, kept.practitioner_role_id
        ),
    )


def test_a_new_plan_reads_its_goals_and_care_team_from_contained_resources() -> None:
    plan = _full_plan()
    sent = careplan.to_fhir(plan)
    goals = [
        goal_mapper.to_fhir(plan, g) | {"id": f"goal{n}"} for n, g in enumerate(plan.content.goals)
    ]
    sent["contained"] = [*goals, careteam.to_fhir(plan) | {"id": "team"}]
    sent["goal"] = [{"reference": f"#{g['id']}"} for g in goals]
    sent["careTeam"] = [{"reference": "#team"}]
    read = careplan.from_fhir(validate_as(sent, CarePlan))
    coordinator = CoordinatorInput("Anna", "kommun-0880-hemsjukvard", practitioner_role_id="role-7")
    assert read == _expected(plan, coordinator)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"goal": [{"reference": "#nowhere"}]}, "CarePlan.goal[0]"),
        ({"goal": [{"reference": "Goal/plan-9.g1"}]}, "CarePlan.goal[0]"),
        ({"careTeam": [{"reference": "CareTeam/another"}]}, "CarePlan.careTeam[0]"),
        ({"encounter": {"reference": "Patient/person-1"}}, "CarePlan.encounter"),
        ({"period": {"start": "2026-03"}}, "CarePlan.period.start"),
    ],
)
def test_what_names_no_part_of_the_plan_is_refused_naming_the_element(
    change: dict[str, Any], field: str
) -> None:
    plan = _full_plan()
    with pytest.raises(InvalidInput) as refused:
        careplan.from_fhir(validate_as(careplan.to_fhir(plan) | change, CarePlan), plan)
    assert refused.value.field == field


def test_a_json_string_where_a_boolean_belongs_is_refused_once_validated() -> None:
    """The model would read "true" as true; the validation refuses it, naming the element."""
    sent = careplan.to_fhir(replace(_full_plan(), id="plan-2"))
    sent["contained"] = [{"resourceType": "Practitioner", "id": "p", "active": "true"}]
    with pytest.raises(Malformed) as refused:
        validate_as(sent, CarePlan)
    assert refused.value.field == "CarePlan.contained[0].active"
