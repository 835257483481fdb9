"""Validated parsers of inbound FHIR, side by side: the same refusals, and how fast (issue 20).

The service validates each inbound resource with ``fhir.resources`` (pydantic models) and then
``app.fhir.primitives.check`` (required bindings, JSON booleans), about half a millisecond per
Patient. This measures the candidates that could replace that gate against it:

- ``jsonschema-rs`` (Rust) with the official R4 JSON schema, the one the test suite already
  checks responses with;
- ``fhirclient``'s models (strict), an independent model code base.

For correctness each candidate is given the same inputs as the service: valid resources and a
corpus of bad ones (each breaks one rule an integrator can break), and must refuse exactly what
the service refuses. For speed, each validates the 100 Patients of one benchmark transaction
Bundle, many times over, in this process.

Run: ``.venv/bin/python -m bench.parsers`` (needs the schema ``make test`` fetches, at
``SAMVERKAN_FHIR_SCHEMA`` or ``.cache/fhir-json-schema/package/fhir.schema.json``).
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from app.domain.errors import Malformed
from app.fhir import primitives

Resource = dict[str, Any]
SCHEMA = Path(
    os.environ.get("SAMVERKAN_FHIR_SCHEMA", ".cache/fhir-json-schema/package/fhir.schema.json")
)

PATIENT: Resource = {
    "resourceType": "Patient",
    "identifier": [
        {"system": "http://electronichealth.se/identifier/personnummer", "value": "202401012383"}
    ],
    "name": [{"family": "Bench", "given": ["Barn"]}],
    "gender": "female",
    "birthDate": "2024-01-01",
    "telecom": [{"system": "phone", "value": "+46 70 123 45 67"}],
    "managingOrganization": {"reference": "Organization/kommun-0880"},
}
ENCOUNTER: Resource = {
    "resourceType": "Encounter",
    "status": "in-progress",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
    "subject": {"reference": "Patient/p1"},
    "period": {"start": "2026-11-30T08:00:00+01:00"},
}


def _with(resource: Resource, path: str, value: Any) -> Resource:
    """``resource`` with the element at the dotted ``path`` (list indexes as numbers) set."""
    changed = copy.deepcopy(resource)
    *parents, last = path.split(".")
    node: Any = changed
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return changed


# Each bad input breaks one rule; the name says which.
BAD: dict[str, Resource] = {
    "gender outside its required value set": _with(PATIENT, "gender", "unknown-gender"),
    "boolean sent as a string": _with(PATIENT, "active", "true"),
    "boolean sent as a number": _with(PATIENT, "active", 1),
    "impossible date": _with(PATIENT, "birthDate", "2024-13-01"),
    "date with a time": _with(PATIENT, "birthDate", "2024-01-01T10:00:00"),
    "unknown element": _with(PATIENT, "favouriteColour", "blue"),
    "list element sent as an object": _with(PATIENT, "identifier", PATIENT["identifier"][0]),
    "string element sent as a list": _with(PATIENT, "name.0.family", ["Bench"]),
    "list of strings sent as a string": _with(PATIENT, "name.0.given", "Barn"),
    "empty string": _with(PATIENT, "name.0.family", ""),
    "telecom system outside its value set": _with(PATIENT, "telecom.0.system", "pager-ish"),
    "id with illegal characters": _with(PATIENT, "id", "a b/c"),
    "extension without url": _with(PATIENT, "extension", [{"valueString": "x"}]),
    "reference sent as a string": _with(PATIENT, "managingOrganization", "Organization/x"),
    "Encounter without status": {k: v for k, v in ENCOUNTER.items() if k != "status"},
    "Encounter status outside its value set": _with(ENCOUNTER, "status", "ongoing"),
    "instant without a time zone": _with(ENCOUNTER, "period.start", "2026-11-30T08:00:00"),
    "number sent as a string": _with(PATIENT, "multipleBirthInteger", "2"),
    "empty object": _with(PATIENT, "managingOrganization", {}),
    "empty array": _with(PATIENT, "telecom", []),
    "null value": _with(PATIENT, "gender", None),
    "date sent as a number": _with(PATIENT, "birthDate", 0),
    "instant sent as a number": _with(ENCOUNTER, "period.start", 1700000000),
    "decimal sent as a string": {
        **PATIENT,
        "extension": [{"url": "http://example.org/weight", "valueDecimal": "72.5"}],
    },
}
GOOD: dict[str, Resource] = {"Patient": PATIENT, "Encounter": ENCOUNTER}


def service(resource: Resource) -> None:
    """What the service does now: the model, then the primitives the model lets through."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
    primitives.check(resource)


def refused_by_service(resource: Resource) -> bool:
    try:
        service(resource)
    except (ValidationError, Malformed, ValueError, TypeError):
        return True
    return False


def _jsonschema_rs() -> Callable[[Resource], bool] | None:
    try:
        import jsonschema_rs
    except ImportError:
        return None
    if not SCHEMA.exists():
        return None
    validator = jsonschema_rs.Draft6Validator(json.loads(SCHEMA.read_text()))
    return lambda resource: not validator.is_valid(resource)


def _fhirclient() -> Callable[[Resource], bool]:
    from fhirclient.models import fhirabstractbase  # type: ignore[import-untyped]
    from fhirclient.models.fhirelementfactory import (  # type: ignore[import-untyped]
        FHIRElementFactory,
    )

    def refused(resource: Resource) -> bool:
        try:
            FHIRElementFactory.instantiate(resource["resourceType"], resource)
        except (fhirabstractbase.FHIRValidationError, TypeError, ValueError, KeyError):
            return True
        return False

    return refused


def candidates() -> dict[str, Callable[[Resource], bool]]:
    found: dict[str, Callable[[Resource], bool]] = {
        "fhir.resources + primitives (now)": refused_by_service,
        "fhirclient (strict)": _fhirclient(),
    }
    schema = _jsonschema_rs()
    if schema is not None:
        found["jsonschema-rs, R4 schema"] = schema
    return found


def per_resource_us(refused: Callable[[Resource], bool], rounds: int = 20) -> float:
    patients = [_with(PATIENT, "identifier.0.value", f"2024010{i:05d}") for i in range(100)]
    start = time.perf_counter()
    for _ in range(rounds):
        for patient in patients:
            refused(patient)
    return (time.perf_counter() - start) / (rounds * len(patients)) * 1e6


def main() -> None:
    found = candidates()
    truth = {name: refused_by_service(resource) for name, resource in BAD.items()}
    print("| input | " + " | ".join(found) + " |")
    print("|---|" + "---|" * len(found))
    for name, resource in GOOD.items():
        row = ["refused" if refused(resource) else "accepted" for refused in found.values()]
        print(f"| valid {name} | " + " | ".join(row) + " |")
    for name, resource in BAD.items():
        row = ["refused" if refused(resource) else "**accepted**" for refused in found.values()]
        print(f"| {name} | " + " | ".join(row) + " |")
    print()
    print("| validator | µs per Patient | agrees with the service on the bad inputs |")
    print("|---|---:|---|")
    for label, refused in found.items():
        agree = sum(refused(r) == truth[n] for n, r in BAD.items())
        print(f"| {label} | {per_resource_us(refused):.0f} | {agree} of {len(BAD)} |")


if __name__ == "__main__":
    main()
