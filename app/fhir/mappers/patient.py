"""Person → Patient (https://hl7.org/fhir/R4/patient.html).

A protected identity (sekretessmarkering, skyddad folkbokföring, strengt fortrolig adresse) is
labelled ``meta.security`` R (restricted); the caller already gets the masked person when it is not
one that must act.
"""

from __future__ import annotations

from typing import Any

from app.domain.persons import Person
from app.fhir.common import coding, day, meta, ref

CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def to_fhir(person: Person) -> dict[str, Any]:
    """The Patient resource of a person."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person.id,
        "meta": meta(person.version),
        "identifier": [
            {
                "use": "official",
                "system": person.identifier.system,
                "value": person.identifier.value,
            }
        ],
        "active": True,
    }
    if person.protected_identity:
        resource["meta"]["security"] = [coding(CONFIDENTIALITY, "R", "restricted")]
    name: dict[str, Any] = {}
    if person.family_name:
        name["family"] = person.family_name
    if person.given_name:
        name["given"] = [person.given_name]
    if name:
        resource["name"] = [{"use": "official", **name}]
    if person.phone:
        resource["telecom"] = [{"system": "phone", "value": person.phone}]
    if person.birth_date:
        resource["birthDate"] = day(person.birth_date)
    if person.address:
        resource["address"] = [{"use": "home", "text": person.address}]
    resource["managingOrganization"] = ref("Organization", person.paying_municipality_id)
    return resource
