"""Where an OperationOutcome issue points: FHIRPath in ``expression``, anything else in
``details.text``.

The services name the element at fault as the REST API knows it (``family_name``,
``hospital_unit_id``); the FHIR edge names it as the resource the client sent
(``Patient.name[0].family``, ``Encounter.serviceProvider``). A name that has no FHIRPath (a
search parameter such as ``_count`` or ``patient:missing``, a header) is not an expression: it
goes in the issue's ``details.text``, with the sentence in ``diagnostics``
(https://hl7.org/fhir/R4/operationoutcome-definitions.html#OperationOutcome.issue.expression).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from app.fhir.common import extension_url
from app.fhir.conformance import EXTENSIONS

# A FHIRPath rooted at a resource type: segments, each an element with an optional index or a
# function call with one quoted argument (``extension('…')``).
_SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?|[a-z]+\('[^']*'\))"
_FHIRPATH = re.compile(rf"^[A-Z][A-Za-z]*(?:\[\d+\])?(?:\.{_SEGMENT})*$")

# The services' element names, per resource type, as FHIRPath below that type.
FIELD_PATHS: dict[str, dict[str, str]] = {
    "Patient": {
        "identifier": "identifier[0]",
        "identifier.system": "identifier[0].system",
        "identifier.value": "identifier[0].value",
        "family_name": "name[0].family",
        "given_name": "name[0].given",
        "birth_date": "birthDate",
        "residence_municipality_id": "managingOrganization",
        "stay_municipality_id": "managingOrganization",
        "phone": "telecom",
        "address": "address",
        "gender": "gender",
    },
    "Encounter": {
        "person_id": "subject",
        "hospital_unit_id": "serviceProvider",
        "admitted_at": "period.start",
        "municipality_id": "hospitalization.destination",
        "primary_care_unit_id": f"extension('{extension_url('primary-care-unit')}')",
        "expected_discharge_date": f"extension('{extension_url('expected-discharge-date')}')",
    },
    "CarePlan": {"person_id": "subject", "episode_id": "subject", "title": "title"},
    "Communication": {
        "person_id": "subject",
        "recipients": "recipient",
        "in_reply_to": "inResponseTo",
    },
    "Task": {"episode_id": "focus", "organization_ids": "owner"},
}


def is_fhirpath(text: str) -> bool:
    """Whether ``text`` is a FHIRPath rooted at a resource type (``Patient.name[0].family``)."""
    return bool(_FHIRPATH.match(text))


def from_loc(root: str, loc: Iterable[Any]) -> str:
    """The FHIRPath of a pydantic error location below ``root``: ``("name", 0, "family")``
    below Patient is ``Patient.name[0].family``."""
    path = root
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            path += f"[{part}]"
        else:
            path += f".{part}"
    return path


# ``Encounter.extension(expected-discharge-date)``, as the mappers name an extension of ours
# (or a part of a complex one), in FHIRPath: ``extension('<its URL>')``.
_NAMED_EXTENSION = re.compile(r"\.extension\(([A-Za-z][A-Za-z0-9-]*)\)")


def _quoted_extensions(field: str) -> str:
    def quoted(match: re.Match[str]) -> str:
        name = match[1]
        url = extension_url(name) if name in EXTENSIONS else name
        return f".extension('{url}')"

    return _NAMED_EXTENSION.sub(quoted, field)


def element(field: str, resource_type: str | None) -> str | None:
    """The FHIRPath of a named element of a ``resource_type`` resource, or None when it has
    none (a parameter, a header, an element of another shape)."""
    field = _quoted_extensions(field)
    if is_fhirpath(field):
        return field
    if resource_type is None:
        return None
    relative = FIELD_PATHS.get(resource_type, {}).get(field)
    return f"{resource_type}.{relative}" if relative is not None else None


def in_entry(path: str, index: int) -> str:
    """A resource's FHIRPath as the resource of a Bundle's ``index``-th entry."""
    if path.startswith("Bundle."):
        return path
    _root, _dot, rest = path.partition(".")
    return f"Bundle.entry[{index}].resource" + (f".{rest}" if rest else "")


def locate(
    issue: dict[str, Any],
    field: str | None,
    resource_type: str | None = None,
    *,
    entry: int | None = None,
) -> dict[str, Any]:
    """``issue`` pointing at ``field``: its FHIRPath in ``expression`` (within the Bundle entry
    ``entry``, when given), or, without one, the name in ``details.text``."""
    if not field:
        return issue
    path = element(field, resource_type)
    if path is not None:
        issue["expression"] = [in_entry(path, entry) if entry is not None else path]
    elif entry is not None:
        issue["expression"] = [f"Bundle.entry[{entry}]"]
        issue["details"] = {"text": field}
    else:
        issue["details"] = {"text": field}
    return issue
