"""What every FHIR mapping shares: the service's canonical base, references, instants, meta.

Mappings build plain dicts (DESIGN §9): the read path never passes through ``fhir.resources``
models, whose serializer costs more than the rest of a read.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

BASE = "https://samverkan.dev/fhir"
FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"


def canonical(kind: str, name: str) -> str:
    """The canonical URL of one of the service's own artifacts (CodeSystem, extension, …)."""
    return f"{BASE}/{kind}/{name}"


def extension_url(name: str) -> str:
    """The URL of one of the service's extensions."""
    return canonical("StructureDefinition", name)


def instant(value: datetime) -> str:
    """A FHIR instant / dateTime in UTC with a Z, always to the microsecond.

    Always six digits: Python leaves the fraction out at a whole second, and an instant written
    with no fraction then compares (as text, or by FHIRPath's precision rules) as if it came
    after one written a fraction of a second later in the same second (a Task authored at a
    whole second and changed within it looked modified before it was authored).

    A value stored before the edge bounded instants (issue 14; migration 0013 reports them) may
    lie where the conversion overflows (year 1 west of UTC, year 9999 east of it): it is then
    shown with its own offset, as stored, rather than failing the read.
    """
    offset = value.utcoffset()
    if not offset:
        return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    try:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    except (OverflowError, ValueError):
        return value.isoformat(timespec="microseconds")


def day(value: date) -> str:
    """A FHIR date."""
    return value.isoformat()


def ref(resource_type: str, resource_id: str, display: str | None = None) -> dict[str, Any]:
    """A literal reference."""
    result: dict[str, Any] = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        result["display"] = display
    return result


ORGANIZATION_IDS = f"{BASE}/NamingSystem/organization-id"


def unit_reference(organization_id: str, display: str | None = None) -> dict[str, Any]:
    """A logical reference to an organization, for elements whose R4 targets exclude
    Organization (Appointment.participant.actor, AppointmentResponse.actor)."""
    return {
        "identifier": {"system": ORGANIZATION_IDS, "value": organization_id},
        "display": display or organization_id,
    }


def organization_of(reference: dict[str, Any] | None) -> str | None:
    """The organization id a reference names; see ``app.fhir.parse.organization_of``, which
    new code imports (this name stays for the modules not yet moved to it)."""
    from app.fhir.parse import organization_of as parsed  # parse imports this module

    return parsed(reference)


def meta(version: int, last_updated: datetime | None = None) -> dict[str, Any]:
    """``meta`` with the version id (and when it was last changed, when known)."""
    result: dict[str, Any] = {"versionId": str(version)}
    if last_updated is not None:
        result["lastUpdated"] = instant(last_updated)
    return result


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """One coding."""
    result = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A CodeableConcept with one coding."""
    return {"coding": [coding(system, code, display)]}


_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def part_id(parent_id: str, key: str) -> str:
    """The FHIR id of a part of a domain object (a plan's goal, a meeting's reply).

    ``<parent>.<key>`` when that is a valid id (letters, digits, ``-``, at most 64 characters),
    else ``<parent>.h<digest of key>``; the parent id never holds a dot, so it can be split off.
    """
    candidate = f"{parent_id}.{key}"
    if len(candidate) <= 64 and key and set(key) <= _ID_CHARS:
        return candidate
    digest = hashlib.sha256(key.encode()).hexdigest()[: 63 - len(parent_id) - 1]
    return f"{parent_id}.h{digest}"


def parent_of(part: str) -> str:
    """The parent id of a ``part_id``."""
    return part.split(".", 1)[0]
