"""The OpenAPI document as the service actually answers.

FastAPI attaches a response model to the route's default media type (``application/json``) and
adds its own 422 validation-error shape to every route that declares parameters; this service
answers errors as ``application/problem+json`` (api/errors.py), so both are set right here,
once, for every REST route. FHIR routes answer OperationOutcome and are documented with them.
Every property is described, from the API's vocabulary where its model says nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI

from app.api.vocabulary import describe_properties
from app.http.errors import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"
Amendment = Callable[[dict[str, Any]], None]
# What the request plumbing (api/routing.py) answers for any route that takes a body, before the
# route runs: too large, and not sent as JSON.
BODY_REFUSALS = {
    "413": "The body is larger than the configured maximum",
    "415": "The body is not sent as application/json",
}


def problem_bodies(document: dict[str, Any]) -> None:
    """Put every REST error body under ``application/problem+json`` with the Problem schema."""
    for path, operations in document.get("paths", {}).items():
        if path == "/fhir" or path.startswith("/fhir/"):
            continue
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content")
                if not status.startswith(("4", "5")) or not content:
                    continue
                schema = content.get("application/json", {}).get("schema", {})
                if schema.get("$ref") == FASTAPI_VALIDATION or PROBLEM_JSON in content:
                    content.pop("application/json", None)
                    content[PROBLEM_JSON] = {"schema": PROBLEM_REF}
    _drop_unreferenced(document, ("HTTPValidationError", "ValidationError"))


def body_refusals(document: dict[str, Any]) -> None:
    """Declare the 413 and 415 every REST route that takes a body can answer."""
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            if "requestBody" not in operation:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in BODY_REFUSALS.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
                    },
                )


def _drop_unreferenced(document: dict[str, Any], names: tuple[str, ...]) -> None:
    """Remove the named schemas, in order, that nothing else refers to any more."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in names:
        others = {k: v for k, v in schemas.items() if k != name}
        rest = json.dumps({"paths": document.get("paths", {}), "schemas": others})
        if f'"#/components/schemas/{name}"' not in rest:
            schemas.pop(name, None)


def install(app: FastAPI, amendments: Iterable[Amendment] = ()) -> None:
    """Serve (and write, with ``samverkan openapi``) the corrected document; ``amendments``
    complete it from the edges' own tables (the FHIR interactions)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    extra = tuple(amendments)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            problem_bodies(document)
            body_refusals(document)
            for amend in extra:
                amend(document)
            describe_properties(document)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
