"""Search parameter values as R4 writes them: tokens, references, comma lists (no database)."""

from __future__ import annotations

import pytest

from app.domain.errors import InvalidInput
from app.domain.identifiers import PERSONNUMMER
from app.fhir import search_params
from app.fhir.search_params import Token, plan, reference, split, token

BASE = "https://samverkan.example/fhir"
STATUS = Token(implicit="http://hl7.org/fhir/request-status")
CATEGORY = Token(("https://samverkan.dev/fhir/CodeSystem/plan-category",))


def test_a_comma_list_splits_but_an_escaped_comma_stays() -> None:
    assert split("a,b") == ["a", "b"]
    assert split(r"a\,b,c") == ["a,b", "c"]
    assert split("a") == ["a"]


def test_token_forms() -> None:
    assert token("active", STATUS, "status") == [("active", False)]
    assert token("|active", STATUS, "status") == [("active", False)]
    assert token("http://hl7.org/fhir/request-status|active", STATUS, "status") == [
        ("active", False)
    ]
    assert token("http://other.example|active", STATUS, "status") == []
    # A CodeableConcept's codes carry a system: |code (no system) matches none of them.
    assert token("|SIP", CATEGORY, "category") == []
    assert token(f"{CATEGORY.systems[0]}|SIP", CATEGORY, "category") == [("SIP", False)]
    with pytest.raises(InvalidInput):
        token("http://hl7.org/fhir/request-status|", STATUS, "status")


def test_an_identifier_without_a_system_is_tried_in_each() -> None:
    spec = search_params.TOKENS[("Patient", "identifier")]
    guessed = token("194808011234", spec, "identifier")
    assert (f"{PERSONNUMMER}|194808011234", True) in guessed
    assert len(guessed) == len(spec.systems)
    assert token(f"{PERSONNUMMER}|1948", spec, "identifier") == [(f"{PERSONNUMMER}|1948", False)]


def test_reference_forms() -> None:
    one = ("Patient",)
    assert reference("Patient/p1", one, BASE, "patient") == ["Patient/p1"]
    assert reference("p1", one, BASE, "patient") == ["Patient/p1"]
    assert reference(f"{BASE}/Patient/p1", one, BASE, "patient") == ["Patient/p1"]
    assert reference(f"{BASE}/Patient/p1/_history/2", one, BASE, "patient") == ["Patient/p1"]
    assert reference("https://other.example/fhir/Patient/p1", one, BASE, "patient") == []
    with pytest.raises(InvalidInput) as refused:
        reference("Encounter/e1", one, BASE, "patient")
    assert refused.value.field == "patient"
    many = ("Organization", "PractitionerRole")
    assert reference("Patient/p1", many, BASE, "participant") == []
    assert reference("x", many, BASE, "participant") == ["Organization/x", "PractitionerRole/x"]


def test_a_plan_gives_a_comma_list_to_the_searcher_whole() -> None:
    declared = {"status": "token", "category": "token", "patient": "reference"}
    asked = plan(
        "CarePlan",
        declared,
        {"status": "draft,active", "category": "SIP", "patient": "Patient/p1", "_count": "5"},
        BASE,
    )
    # One query asks for any of the listed values, so paging and order are the query's.
    assert [a.params for a in asked.alternatives] == [
        {"_count": ("5",), "status": ("draft", "active"), "category": ("SIP",), "patient": ("p1",)}
    ]
    assert asked.subjects() == ["p1"]
    nothing = plan("CarePlan", declared, {"status": "http://other.example|active"}, BASE)
    assert nothing.alternatives == ()
    ids = plan("CarePlan", declared, {"_id": ",".join(str(i) for i in range(40))}, BASE)
    assert len(ids.alternatives) == 1
    with pytest.raises(InvalidInput) as refused:
        plan("CarePlan", declared, {"_id": ",".join(str(i) for i in range(101))}, BASE)
    assert refused.value.field == "_id"


def test_patient_and_subject_together_name_the_persons_both_name() -> None:
    declared = {"patient": "reference", "subject": "reference"}
    both = plan("CarePlan", declared, {"patient": "p1,p2", "subject": "Patient/p2,p3"}, BASE)
    assert [a.params for a in both.alternatives] == [{"patient": ("p2",)}]
    assert plan("CarePlan", declared, {"patient": "p1", "subject": "p3"}, BASE).alternatives == ()


def test_a_parameter_declared_single_is_searched_one_value_at_a_time() -> None:
    declared = {"status": "token", "patient": "reference"}
    asked = plan(
        "AuditEvent", declared, {"patient": "p1,p2", "status": "a"}, BASE, frozenset({"patient"})
    )
    assert [a.params for a in asked.alternatives] == [
        {"status": ("a",), "patient": ("p1",)},
        {"status": ("a",), "patient": ("p2",)},
    ]
    spec = search_params.TOKENS[("Patient", "identifier")]
    guessed = plan("Patient", {"identifier": "token"}, {"identifier": "194808011234"}, BASE)
    assert len(guessed.alternatives) == len(spec.systems)
    assert all(a.guessed == {"identifier"} for a in guessed.alternatives)
    with pytest.raises(InvalidInput):
        many = ",".join(str(i) for i in range(40))
        plan("AuditEvent", declared, {"patient": many}, BASE, frozenset({"patient"}))


def test_every_declared_token_and_reference_is_described() -> None:
    from app.fhir.resources import RESOURCES

    for kind, spec in RESOURCES.items():
        for param in spec.params:
            if param.type == "reference" and param.name not in search_params.PERSON_PARAMS:
                assert (kind, param.name) in search_params.REFERENCES, (kind, param.name)
            if param.type == "token" and param.name != "_id":
                assert (kind, param.name) in search_params.TOKENS, (kind, param.name)
