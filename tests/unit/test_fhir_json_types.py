"""The gate every inbound resource passes refuses what FHIR JSON does not allow, even where the
``fhir.resources`` models would coerce it, and names the element (bench/parsers.py compares
other validators on the same corpus)."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import Malformed
from app.fhir.writes import validate
from bench.parsers import BAD, ENCOUNTER, GOOD, PATIENT

# Where each bad input is wrong, as the refusal must name it.
WHERE = {
    "gender outside its required value set": "Patient.gender",
    "boolean sent as a string": "Patient.active",
    "boolean sent as a number": "Patient.active",
    "number sent as a string": "Patient.multipleBirthInteger",
    "empty object": "Patient.managingOrganization",
    "empty array": "Patient.telecom",
    "null value": "Patient.gender",
    "date sent as a number": "Patient.birthDate",
    "instant sent as a number": "Encounter.period.start",
    "decimal sent as a string": "Patient.extension[0].valueDecimal",
    "telecom system outside its value set": "Patient.telecom[0].system",
    "Encounter status outside its value set": "Encounter.status",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_input_is_refused(name: str) -> None:
    with pytest.raises(Malformed) as refused:
        validate(BAD[name])
    if name in WHERE:
        assert refused.value.field == WHERE[name], refused.value.message


@pytest.mark.parametrize("resource", list(GOOD.values()), ids=list(GOOD))
def test_valid_resources_pass(resource: dict[str, Any]) -> None:
    assert validate(resource).model_dump(mode="json", exclude_none=True) == resource


def test_a_null_beside_its_extension_is_a_value_given_as_an_extension() -> None:
    name = {
        "family": "Bench",
        "given": ["Barn", None],
        "_given": [None, {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}],
    }
    given = validate({**PATIENT, "name": [name]}).model_dump(mode="json", by_alias=True)
    assert given["name"][0]["given"] == ["Barn", None]


def test_numbers_and_booleans_of_the_right_type_pass() -> None:
    shown = validate({**PATIENT, "multipleBirthInteger": 2, "active": False})
    assert shown.model_dump()["multipleBirthInteger"] == 2
    assert shown.model_dump()["active"] is False
    assert validate(ENCOUNTER).get_resource_type() == "Encounter"
