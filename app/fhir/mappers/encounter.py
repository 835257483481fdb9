"""Episode → Encounter (https://hl7.org/fhir/R4/encounter.html), class IMP (inpatient).

The discharge-ready time, the expected discharge date and the link to the stay a readmission
follows are extensions of the service.
"""

from __future__ import annotations

from typing import Any

from app.domain.episodes import Episode, EpisodeState
from app.fhir.common import concept, day, extension_url, instant, meta, ref

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
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": episode.id,
        "meta": meta(episode.version),
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
