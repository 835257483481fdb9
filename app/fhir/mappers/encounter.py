"""Episode → Encounter (https://hl7.org/fhir/R4/encounter.html), class IMP (inpatient).

The discharge-ready time, the expected discharge date, the link to the stay a readmission
follows, the municipality's latest answer and its confirmation that services started are
extensions of the service (``app.fhir.mappers.handover``).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.extension import Extension

from app.domain.episodes import AdmissionType, Episode, EpisodeState
from app.domain.errors import InvalidInput
from app.fhir import parse
from app.fhir.common import concept, day, extension_url, instant, meta, ref
from app.fhir.mappers import handover
from app.services.episodes import RegisterAdmission

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
DISCHARGE_READY_AT = extension_url("discharge-ready-at")
EXPECTED_DISCHARGE = extension_url("expected-discharge-date")
READMISSION_OF = extension_url("readmission-of")
_STATUS = {
    EpisodeState.ADMITTED: "in-progress",
    EpisodeState.PLANNING: "in-progress",
    EpisodeState.DISCHARGE_READY: "in-progress",
    EpisodeState.DISCHARGED: "finished",
}


def to_fhir(episode: Episode) -> dict[str, Any]:
    """The Encounter resource of an inpatient episode."""
    period: dict[str, Any] = {"start": instant(episode.admitted_at)}
    if episode.discharged_at is not None:
        period["end"] = instant(episode.discharged_at)
    extensions: list[dict[str, Any]] = []
    if episode.discharge_ready_since is not None:
        extensions.append(
            {"url": DISCHARGE_READY_AT, "valueDateTime": instant(episode.discharge_ready_since)}
        )
    if episode.expected_discharge_date is not None:
        extensions.append(
            {"url": EXPECTED_DISCHARGE, "valueDate": day(episode.expected_discharge_date)}
        )
    if episode.readmission_of_id is not None:
        extensions.append(
            {"url": READMISSION_OF, "valueReference": ref("Encounter", episode.readmission_of_id)}
        )
    extensions += handover.extensions(episode)
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": episode.id,
        "meta": meta(episode.version, episode.updated_at),
        "status": _STATUS[episode.state],
        "class": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
        "subject": ref("Patient", episode.person_id),
        "period": period,
        "serviceProvider": ref("Organization", episode.hospital_unit_id),
        "hospitalization": {
            "admitSource": concept(
                ADMIT_SOURCE,
                "emd" if episode.admission_type.value == "acute" else "other",
            ),
            "destination": ref("Organization", episode.municipality_id),
        },
    }
    if extensions:
        resource["extension"] = extensions
    return resource


PRIMARY_CARE_UNIT = extension_url("primary-care-unit")


def extension(extensions: list[Extension] | None, url: str) -> Extension | None:
    """The first extension with ``url`` among ``extensions``."""
    return next((e for e in extensions or [] if e.url == url), None)


def from_fhir(resource: Encounter, person_id: str) -> RegisterAdmission:
    """An admission from an Encounter of class IMP: the unit, the time, acute or planned.

    ``hospitalization.destination`` names the receiving municipality and the extension
    ``primary-care-unit`` the primary-care unit; both are optional.
    """
    period = resource.period
    if period is None or not period.start:
        raise InvalidInput("Encounter.period.start is the admission time", field="Encounter.period")
    hospitalization = resource.hospitalization
    source = hospitalization.admitSource if hospitalization is not None else None
    codes = source.coding if source is not None else None
    destination = hospitalization.destination if hospitalization is not None else None
    primary = extension(resource.extension, PRIMARY_CARE_UNIT)
    expected = extension(resource.extension, EXPECTED_DISCHARGE)
    return RegisterAdmission(
        person_id=person_id,
        hospital_unit_id=parse.reference_id(
            resource.serviceProvider, "Organization", "Encounter.serviceProvider"
        ),
        admitted_at=parse.instant(period.start, "Encounter.period.start"),
        admission_type=AdmissionType.ACUTE
        if codes and codes[0].code == "emd"
        else AdmissionType.PLANNED,
        municipality_id=parse.reference_id(
            destination, "Organization", "Encounter.hospitalization.destination"
        )
        if destination is not None
        else None,
        primary_care_unit_id=parse.reference_id(
            primary.valueReference, "Organization", "Encounter.extension(primary-care-unit)"
        )
        if primary is not None and primary.valueReference is not None
        else None,
        expected_discharge_date=parse.optional_day(
            expected.valueDate if expected is not None else None,
            "Encounter.extension(expected-discharge-date)",
        ),
    )
