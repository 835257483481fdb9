"""The FHIR interactions in the OpenAPI document: one operation per resource type and interaction.

The routes of ``app.fhir.routes`` are generic (``/fhir/{resource_type}/…``); the document declares
``/fhir/Patient``, ``/fhir/Patient/{id}``, … instead, from the interaction table
(``app.fhir.interactions``) and the resource table (``RESOURCES``), with each type's search
parameters, ``application/fhir+json`` bodies and the OperationOutcome of every error it can
answer. The FHIR routes with routes of their own (metadata, transaction, ``$process-message``,
Subscription, ``$evaluate-measure``) get their statuses from the same table, by operationId.
"""

from __future__ import annotations

from typing import Any

from app.fhir import writes
from app.fhir.common import FHIR_JSON
from app.fhir.interactions import ROUTES, Interaction, served
from app.fhir.resources import RESOURCES
from app.fhir.resources.spec import ResourceSpec
from app.fhir.search import COMMON_PARAMS, REVINCLUDES

# https://hl7.org/fhir/R4/datatypes.html#id, bounded by the columns the ids are kept in.
ID_PATTERN = r"^[A-Za-z0-9\-\.]{1,64}$"
OUTCOME = "FhirOperationOutcome"
BUNDLE = "FhirBundle"
SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}]
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "The request is malformed",
    401: "No valid bearer access token",
    403: "The token lacks the scope, or the caller has no part in the record",
    404: "No such resource (or not one the caller may see)",
    405: "The interaction is not supported for this type",
    409: "The change conflicts with the record's state",
    412: "The version named is not the current one",
    413: "The body is too large",
    415: "The body is not sent as application/fhir+json",
    422: "A value is out of bounds or the resource cannot be processed",
    428: "The version the change was made against is required",
    429: "Over the rate limit",
}
_COMMON_PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "_count": ({"type": "integer", "minimum": 1}, "page size (at most the configured maximum)"),
    "_cursor": ({"type": "string"}, "the position the `next` link of the previous page gave"),
    "_format": (
        {"type": "string", "enum": ["json", "application/json", FHIR_JSON]},
        "JSON is the only format served",
    ),
    "_sort": ({"type": "string", "enum": ["_id"]}, "results are sorted by _id only"),
    "_summary": (
        {"type": "string", "enum": ["count", "false"]},
        "`count` answers the total only",
    ),
    "_lastUpdated": (
        {"type": "string"},
        "when the resource last changed, with a prefix (ge, le, gt, lt, eq)",
    ),
}


def declare(document: dict[str, Any]) -> None:
    """Declare every FHIR interaction the server answers in ``document`` (in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_shared_schemas())
    paths: dict[str, dict[str, Any]] = document.setdefault("paths", {})
    for path, operations in paths.items():
        if path == "/fhir" or path.startswith("/fhir/"):
            for method, operation in operations.items():
                interaction = ROUTES.get(operation.get("operationId", ""))
                if interaction is None:
                    raise LookupError(f"{method.upper()} {path} is not in the interaction table")
                _own_route(operation, interaction, _type_in(path))
    for name, spec in RESOURCES.items():
        schemas[_schema_name(name)] = _resource_schema(name, spec.documentation, full=True)
        for interaction in served(
            versioned=spec.vread is not None,
            creatable=name in writes.CREATORS,
            updatable=name in writes.UPDATERS,
        ):
            path = f"/fhir/{name}{interaction.path}"
            paths.setdefault(path, {})[interaction.method] = _operation(name, spec, interaction)


def _type_in(path: str) -> str | None:
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[2][:1].isupper() else None


def _schema_name(resource_type: str) -> str:
    return f"Fhir{resource_type}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _returned(interaction: Interaction, resource_type: str | None) -> dict[str, Any]:
    kind = resource_type if interaction.returns == "resource" else interaction.returns
    if kind == "Bundle":
        return _ref(BUNDLE)
    if kind is None or kind not in RESOURCES:
        return _resource_schema(kind or "Resource", "", full=False)
    return _ref(_schema_name(kind))


def _responses(
    interaction: Interaction, resource_type: str | None, error_schema: dict[str, Any]
) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in interaction.success:
        if status == 204:
            responses["204"] = {"description": _REASONS[204]}
            continue
        responses[str(status)] = {
            "description": _REASONS[status],
            "content": {FHIR_JSON: {"schema": _returned(interaction, resource_type)}},
        }
    for status in sorted(interaction.errors):
        responses[str(status)] = {
            "description": _REASONS[status],
            "content": {FHIR_JSON: {"schema": error_schema}},
        }
    return responses


def _own_route(
    operation: dict[str, Any],
    interaction: Interaction,
    resource_type: str | None,
) -> None:
    """A route of its own: its statuses from its row of the table, its bodies as FHIR JSON."""
    error_schema: dict[str, Any] = _ref(OUTCOME)
    if interaction.code == "process-message":
        # A refused message is answered with a response message, a malformed one with an
        # OperationOutcome.
        error_schema = {"anyOf": [_ref(OUTCOME), _ref(BUNDLE)]}
    operation["responses"] = _responses(interaction, resource_type, error_schema)
    if interaction.body:
        body = operation.setdefault("requestBody", {"required": True, "content": {}})
        content = body["content"]
        media = content.pop("application/json", None) or content.get(FHIR_JSON) or {}
        media.setdefault("schema", _request_schema(resource_type or "Bundle"))
        body["content"] = {FHIR_JSON: media}


def _operation(name: str, spec: ResourceSpec, interaction: Interaction) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    if "{id}" in interaction.path:
        parameters.append(
            {
                "name": "id",
                "in": "path",
                "required": True,
                "description": f"the {name}'s logical id",
                "schema": {"type": "string", "pattern": ID_PATTERN, "maxLength": 64},
            }
        )
    if "{vid}" in interaction.path:
        parameters.append(
            {
                "name": "vid",
                "in": "path",
                "required": True,
                "description": "the version (meta.versionId)",
                "schema": {"type": "string", "pattern": r"^[0-9]{1,12}$", "maxLength": 12},
            }
        )
    if interaction.searches:
        parameters += _search_parameters(name, spec)
    elif interaction.code == "history-type":
        parameters += [
            _query("_since", {"type": "string"}, "versions changed at or after this instant"),
            _query("_count", *_COMMON_PARAMS["_count"]),
            _query("_cursor", *_COMMON_PARAMS["_cursor"]),
        ]
    operation: dict[str, Any] = {
        "tags": ["FHIR"],
        "summary": interaction.summary.format(type=name),
        "description": spec.documentation,
        "operationId": f"fhir_{interaction.code.replace('-', '_')}_{name}",
        "security": SECURITY,
        "responses": _responses(interaction, name, _ref(OUTCOME)),
    }
    if parameters:
        operation["parameters"] = parameters
    if interaction.code == "update":
        operation["parameters"].append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": 'the version the change was made against, e.g. W/"2" (or the '
                "body's meta.versionId)",
                "schema": {"type": "string"},
            }
        )
    if interaction.body:
        operation["requestBody"] = {
            "required": True,
            "content": {FHIR_JSON: {"schema": _request_schema(name)}},
        }
    return operation


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _search_parameters(name: str, spec: ResourceSpec) -> list[dict[str, Any]]:
    parameters = [_query(p.name, {"type": "string"}, p.documentation) for p in spec.params]
    for common in COMMON_PARAMS:
        if common in _COMMON_PARAMS:
            schema, description = _COMMON_PARAMS[common]
            parameters.append(_query(common, schema, description))
    if spec.includes:
        names = [i.name for i in spec.includes]
        parameters.append(
            _query(
                "_include",
                {"type": "string", "enum": names},
                "also the resources these elements refer to",
            )
        )
    if name == "Patient":
        parameters.append(
            _query(
                "_revinclude",
                {"type": "string", "enum": list(REVINCLUDES)},
                "also the resources that refer to the patients found",
            )
        )
    return parameters


def _request_schema(resource_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["resourceType"],
        "description": f"a FHIR R4 {resource_type} in JSON",
        "properties": {
            "resourceType": {
                "const": resource_type,
                "description": "the resource type",
            }
        },
    }


def _resource_schema(resource_type: str, documentation: str, *, full: bool) -> dict[str, Any]:
    """A FHIR resource's outline: its type, id and version; the rest as the R4 spec has it."""
    schema: dict[str, Any] = {
        "type": "object",
        "description": documentation or f"a FHIR R4 {resource_type}",
        "required": ["resourceType", "id", "meta"] if full else ["resourceType"],
        "properties": {
            "resourceType": (
                {"type": "string", "description": "the resource type"}
                if resource_type == "Resource"
                else {"const": resource_type, "description": "the resource type"}
            ),
            "id": {"type": "string", "pattern": ID_PATTERN, "description": "the logical id"},
            "meta": {
                "type": "object",
                "description": "the version and when it was made",
                "properties": {
                    "versionId": {"type": "string", "description": "the version"},
                    "lastUpdated": {"type": "string", "description": "when it changed"},
                },
            },
        },
    }
    return schema


def _shared_schemas() -> dict[str, Any]:
    any_resource = _resource_schema("Resource", "any FHIR R4 resource", full=False)
    return {
        "FhirResource": any_resource,
        BUNDLE: {
            "type": "object",
            "description": "a FHIR R4 Bundle: search results, a history, a transaction's "
            "answer or a message",
            "required": ["resourceType", "type"],
            "properties": {
                "resourceType": {"const": "Bundle", "description": "the resource type"},
                "type": {"type": "string", "description": "searchset, history, message, …"},
                "total": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "how many match (when known)",
                },
                "link": {
                    "type": "array",
                    "description": "self, and next while there are more",
                    "items": {
                        "type": "object",
                        "required": ["relation", "url"],
                        "properties": {
                            "relation": {"type": "string", "description": "self or next"},
                            "url": {"type": "string", "description": "the page's URL"},
                        },
                    },
                },
                "entry": {
                    "type": "array",
                    "description": "the resources",
                    "items": {
                        "type": "object",
                        "properties": {
                            "fullUrl": {"type": "string", "description": "the resource's URL"},
                            "resource": _ref("FhirResource"),
                        },
                    },
                },
            },
        },
        OUTCOME: {
            "type": "object",
            "description": "what went wrong, with the element at fault in `expression`",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"const": "OperationOutcome", "description": "the resource type"},
                "issue": {
                    "type": "array",
                    "minItems": 1,
                    "description": "one issue per problem",
                    "items": {
                        "type": "object",
                        "required": ["severity", "code"],
                        "properties": {
                            "severity": {
                                "enum": ["fatal", "error", "warning", "information"],
                                "description": "how bad it is",
                            },
                            "code": {
                                "type": "string",
                                "description": "the issue type (invalid, login, forbidden, "
                                "not-found, processing, …)",
                            },
                            "diagnostics": {"type": "string", "description": "what was wrong"},
                            "expression": {
                                "type": "array",
                                "items": {"type": "string"},
                                "description": "the elements at fault",
                            },
                        },
                    },
                },
            },
        },
    }
