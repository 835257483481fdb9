"""Instance interactions: read, vread, create and update."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.domain.errors import NotFound
from app.domain.values import INT4_MAX
from app.fhir import conditional, parse, writes
from app.fhir.common import FHIR_JSON
from app.fhir.dispatch import (
    SettingsDep,
    require_scope,
    resource_headers,
    spec_of,
    version_headers,
)
from app.fhir.outcome import fhir_response, read_body
from app.fhir.resources.spec import Resource, SearchQuery
from app.http.deps import Caller, UowDep
from app.services import projections
from app.settings import Settings


def _prefer(request: Request) -> str:
    for part in request.headers.get("prefer", "").split(";"):
        name, _sep, value = part.strip().partition("=")
        if name == "return" and value in ("minimal", "representation", "OperationOutcome"):
            return value
    return "representation"


def _written(
    request: Request, written: writes.Written, settings: Settings, *, status: int
) -> Response:
    resource = written.resource
    headers = resource_headers(resource)
    location = (
        f"{settings.issuer}/fhir/{resource['resourceType']}/{resource['id']}"
        f"/_history/{resource['meta']['versionId']}"
    )
    headers["Location"] = location
    prefer = _prefer(request)
    if prefer == "minimal":
        return Response(status_code=status, headers=headers)
    if prefer == "OperationOutcome":
        body = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "information",
                    "code": "informational",
                    "diagnostics": f"{'created' if written.created else 'kept'} {location}",
                }
            ],
        }
        return fhir_response(body, status=status, headers=headers)
    return fhir_response(resource, status=status, headers=headers)


async def create(
    resource_type: str, actor: Caller, uow: UowDep, request: Request, settings: SettingsDep
) -> Response:
    """Create; with `If-None-Exist` (a search) the one match is returned (200), several are 412;
    a plain create of a Patient already registered is 409."""
    spec_of(resource_type)
    creator = writes.CREATORS.get(resource_type)
    if creator is None:
        raise HTTPException(405, f"{resource_type} is not created through FHIR here")
    require_scope(actor, resource_type, "c")
    resource = writes.validate(await read_body(request), resource_type)
    condition = request.headers.get("if-none-exist")
    if condition is not None:
        spec = spec_of(resource_type)

        async def matches(params: dict[str, str], count: int) -> list[Resource]:
            return (await spec.search(uow, actor, SearchQuery.of(params, count, None, settings)))[0]

        found = await conditional.existing(
            condition, resource_type, [p.name for p in spec.params], matches
        )
        if found is not None:
            return _written(request, writes.Written(found, False), settings, status=200)
    written = await creator(uow, actor, resource, settings, datetime.now(UTC))
    return _written(request, written, settings, status=201 if written.created else 200)


async def update(
    resource_type: str,
    resource_id: Annotated[str, Path(max_length=64)],
    actor: Caller,
    uow: UowDep,
    request: Request,
    settings: SettingsDep,
) -> Response:
    """Update against a version: `If-Match`, or the body's meta.versionId (412 when stale)."""
    spec_of(resource_type)
    updater = writes.UPDATERS.get(resource_type)
    if updater is None:
        raise HTTPException(405, f"{resource_type} is not updated through FHIR here")
    require_scope(actor, resource_type, "u")
    resource = writes.validate(await read_body(request), resource_type)
    # The version the change was made against: If-Match, else the meta.versionId of the body
    # (the version the client read); without either the update is refused (428).
    expected = parse.expected_version(request.headers.get("if-match"), resource)
    written = await updater(uow, actor, resource_id, resource, expected, datetime.now(UTC))
    return _written(request, written, settings, status=200)


async def read(
    resource_type: str, resource_id: Annotated[str, Path(max_length=64)], actor: Caller, uow: UowDep
) -> Response:
    """Read the current version of a resource: its stored JSON as is, when the type is covered
    by the read model and its projection is current (``app.services.projections``), else the
    record mapped."""
    spec = spec_of(resource_type)
    require_scope(actor, resource_type, "r")
    stored = await projections.read_stored(uow, actor, resource_type, resource_id)
    if stored is not None:
        return Response(
            stored.body,
            media_type=FHIR_JSON,
            headers=version_headers(stored.version, stored.last_updated),
        )
    resource = await spec.read(uow, actor, resource_id)
    return fhir_response(resource, headers=resource_headers(resource))


async def vread(
    resource_type: str,
    resource_id: Annotated[str, Path(max_length=64)],
    version_id: Annotated[str, Path(max_length=12)],
    actor: Caller,
    uow: UowDep,
) -> Response:
    """Read one version of a resource (every version of a CarePlan; the current of others)."""
    spec = spec_of(resource_type)
    require_scope(actor, resource_type, "r")
    if not (version_id.isascii() and version_id.isdigit()) or int(version_id) > INT4_MAX:
        raise NotFound(f"{resource_type}/{resource_id} has no version {version_id}")
    if spec.vread is not None:
        resource = await spec.vread(uow, actor, resource_id, int(version_id))
    else:
        resource = await spec.read(uow, actor, resource_id)
        if resource["meta"]["versionId"] != version_id:
            raise NotFound(
                f"{resource_type}/{resource_id} keeps only its current version "
                f"({resource['meta']['versionId']})"
            )
    return fhir_response(resource, headers=resource_headers(resource))
