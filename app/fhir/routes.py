"""The FHIR R4 interactions: which handler serves which method and path.

The handlers live with what they do: each resource type in ``app/fhir/resources/`` (its reader,
searcher and parameters, gathered in ``RESOURCES``), search in ``search.py``, read, vread, create
and update in ``instance.py``, transaction and batch in ``batch.py``, history in ``history.py``,
the CapabilityStatement in ``capability.py`` and ``$process-message`` in ``operations/``. The
order below matters: a fixed path comes before the generic ``/{resource_type}/…`` that would
otherwise take it (https://hl7.org/fhir/R4/http.html).

Access is the REST API's: the same services check the care relation and write the access log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from app.fhir import batch, capability, history, instance, search
from app.fhir.dispatch import DECLARED
from app.fhir.operations import process_message
from app.http.routing import UnitOfWorkRoute, reads_only

# The generic routes below serve every type of RESOURCES; the OpenAPI document declares them once
# per type and interaction instead (app.fhir.openapi), so they are left out of it themselves.
api = APIRouter(prefix="/fhir", tags=["FHIR"], route_class=UnitOfWorkRoute)


@dataclass(frozen=True, slots=True)
class Interaction:
    """One route: ``documented`` ones appear in the OpenAPI document as they are; the generic
    ones are declared there per type by ``app.fhir.openapi`` and first answer 405 to a method
    the document does not declare on the path (``DECLARED``)."""

    method: str
    path: str
    handler: Callable[..., Awaitable[Response]]
    summary: str
    documented: bool = False
    extra: dict[str, Any] | None = None
    # Reads only (and logs the read): no BEGIN/COMMIT round trips (``reads_only``).
    reads: bool = False


INTERACTIONS = (
    Interaction(
        "GET",
        "/metadata",
        capability.capability_statement,
        "The CapabilityStatement: what this server serves",
        documented=True,
    ),
    Interaction(
        "POST",
        "/$process-message",
        process_message.process_message,
        "Process a message Bundle (reliable messaging)",
        documented=True,
        extra=process_message.MESSAGE_BODY,
    ),
    Interaction(
        "POST",
        "/{resource_type}",
        instance.create,
        "Create a resource (or find it: If-None-Exist)",
    ),
    Interaction(
        "PUT", "/{resource_type}/{resource_id}", instance.update, "Update a resource (If-Match)"
    ),
    Interaction(
        "POST", "", batch.transaction, "Process a transaction or batch Bundle", documented=True
    ),
    Interaction("GET", "/{resource_type}", search.search, "Search a resource type", reads=True),
    Interaction(
        "GET",
        "/{resource_type}/_history",
        history.type_history,
        "The history of a resource type",
        reads=True,
    ),
    Interaction(
        "GET", "/{resource_type}/{resource_id}", instance.read, "Read a resource", reads=True
    ),
    Interaction(
        "GET",
        "/{resource_type}/{resource_id}/_history",
        history.history,
        "The history of a resource",
        reads=True,
    ),
    Interaction(
        "GET",
        "/{resource_type}/{resource_id}/_history/{version_id}",
        instance.vread,
        "Read a version",
        reads=True,
    ),
)

for interaction in INTERACTIONS:
    api.add_api_route(
        interaction.path,
        reads_only(interaction.handler) if interaction.reads else interaction.handler,
        methods=[interaction.method],
        summary=interaction.summary,
        include_in_schema=interaction.documented,
        dependencies=None if interaction.documented else DECLARED,
        openapi_extra=interaction.extra,
    )
