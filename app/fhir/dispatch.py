"""What every FHIR interaction checks first: the type is served, the scope allows it, the
method is declared."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from app.fhir import parse
from app.fhir.resources import RESOURCES
from app.fhir.resources.spec import Resource, ResourceSpec
from app.http.allow import allowed_methods
from app.http.deps import get_settings, insufficient_scope
from app.security.access import Actor
from app.security.scopes import scope_allows
from app.settings import Settings


def spec_of(resource_type: str) -> ResourceSpec:
    spec = RESOURCES.get(resource_type)
    if spec is None:
        raise HTTPException(
            404,
            f"resource type {resource_type} is not served here; supported: {', '.join(RESOURCES)}",
        )
    return spec


def require_scope(actor: Actor, resource_type: str, permission: str) -> None:
    if not scope_allows(actor.scopes, resource_type, permission):
        raise insufficient_scope(f"system/{resource_type}.{permission}")


def resource_headers(resource: Resource) -> dict[str, str]:
    updated = resource["meta"].get("lastUpdated")
    return version_headers(
        resource["meta"]["versionId"], parse.written_instant(updated) if updated else None
    )


def version_headers(version: str | int, updated: datetime | None) -> dict[str, str]:
    """The ``ETag`` of a resource's version and, when known, its ``Last-Modified``."""
    headers = {"ETag": f'W/"{version}"'}
    if updated is not None:
        stamp = updated.astimezone(UTC)
        headers["Last-Modified"] = stamp.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return headers


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def _declared_method(request: Request) -> None:
    """405 for a method the document does not declare on a path it does (``POST
    /fhir/metadata``, ``PUT /fhir/Patient/<id>``), before the generic route takes the path's
    segments for a type and an id."""
    methods = allowed_methods(request.app, request.url.path)
    if methods is not None and request.method not in methods:
        raise HTTPException(405, f"{request.method} is not supported on {request.url.path}")


DECLARED = [Depends(_declared_method)]
