"""Person → Patient (https://hl7.org/fhir/R4/patient.html).

A protected identity (sekretessmarkering, skyddad folkbokföring, strengt fortrolig adresse) is
labelled ``meta.security`` R (restricted); the caller already gets the masked person when it is not
one that must act. A person whose details are withheld from the caller (it is no party to a record
that shared them) is labelled ``REDACTED`` and carries no name, address, phone, birth date or
municipality.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.patient import Patient

from app.domain.errors import InvalidInput
from app.domain.persons import Person
from app.fhir import parse
from app.fhir.common import coding, day, meta, ref
from app.services.persons import RegisterPerson

CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"


def to_fhir(person: Person) -> dict[str, Any]:
    """The Patient resource of a person."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person.id,
        "meta": meta(person.version, person.updated_at),
        "identifier": [
            {
                "use": "official",
                "system": person.identifier.system,
                "value": person.identifier.value,
            }
        ],
        "active": True,
    }
    security = []
    if person.protected_identity:
        security.append(coding(CONFIDENTIALITY, "R", "restricted"))
    if person.details_withheld:
        security.append(coding(OBSERVATION_VALUE, "REDACTED", "redacted"))
    if security:
        resource["meta"]["security"] = security
    name: dict[str, Any] = {}
    if person.family_name:
        name["family"] = person.family_name
    if person.given_name:
        name["given"] = [person.given_name]
    if name:
        resource["name"] = [{"use": "official", **name}]
    if person.phone:
        resource["telecom"] = [{"system": "phone", "value": person.phone}]
    if person.gender:
        resource["gender"] = person.gender
    if person.birth_date:
        resource["birthDate"] = day(person.birth_date)
    if person.address:
        resource["address"] = [{"use": "home", "text": person.address}]
    if not person.details_withheld:
        resource["managingOrganization"] = ref(
            "Organization", person.stay_municipality_id or person.residence_municipality_id
        )
    return resource


def from_fhir(resource: Patient) -> RegisterPerson:
    """A registration from a Patient: the first identifier, name, birth date, municipality.

    ``managingOrganization`` names the residence municipality (as ``to_fhir`` writes the paying
    one); ``meta.security`` R marks a protected identity.
    """
    if not resource.identifier:
        raise InvalidInput("a Patient names a national identifier", field="Patient.identifier")
    system, value = parse.system_value(resource.identifier[0], "Patient.identifier[0]")
    name = resource.name[0] if resource.name else None
    birth = (
        parse.partial_date(resource.birthDate, "Patient.birthDate") if resource.birthDate else None
    )
    address = resource.address[0].text if resource.address else None
    phone = next((t.value for t in resource.telecom or [] if t.system == "phone"), None)
    security = resource.meta.security if resource.meta is not None else None
    return RegisterPerson(
        identifier_system=system,
        identifier_value=value,
        given_name=" ".join(g for g in name.given or [] if g) if name is not None else "",
        family_name=(name.family if name is not None else None) or "",
        residence_municipality_id=parse.reference_id(
            resource.managingOrganization, "Organization", "Patient.managingOrganization"
        ),
        birth_date=birth.first_day if birth is not None and birth.is_day else None,
        birth_year_or_month=birth if birth is not None and not birth.is_day else None,
        protected_identity=any(s.code == "R" for s in security or []),
        address=address,
        phone=phone,
        gender=resource.gender,
    )
