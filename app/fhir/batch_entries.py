"""The entry responses of a batch or transaction Bundle (https://hl7.org/fhir/R4/http.html#trules).

A written entry answers with its resource, location and ETag; a read entry (``GET Type/id``,
``GET Type/id/_history/vid``) with the resource as the caller may read it; a search entry
(``GET Type?params``) with the searchset Bundle ``GET [base]/Type?params`` would return; a
refused entry with the status and OperationOutcome that the same refusal gets outside a Bundle
(``app.http.vocabulary``), its elements named within the entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException

from app.domain.errors import DomainError, Malformed
from app.fhir.negotiation import unserved_format
from app.fhir.outcome import error_outcome, outcome_body
from app.fhir.writes import Entry, Written
from app.http.vocabulary import issue_code, status_line

Resource = dict[str, Any]
# Reads one resource for the caller: type, id and, for a vread, the version.
Reader = Callable[[str, str, int | None], Awaitable[Resource]]
# Searches one type for the caller: type and query parameters; the searchset Bundle.
Searcher = Callable[[str, list[tuple[str, str]]], Awaitable[Resource]]


def _located(resource: Resource, issuer: str) -> dict[str, str]:
    return {
        "fullUrl": f"{issuer}/fhir/{resource['resourceType']}/{resource['id']}",
    }


def written(result: Written, issuer: str) -> dict[str, Any]:
    """The response entry of a create or update."""
    resource = result.resource
    return {
        **_located(resource, issuer),
        "resource": resource,
        "response": {
            "status": "201 Created" if result.created else "200 OK",
            "location": f"{resource['resourceType']}/{resource['id']}/_history/"
            f"{resource['meta']['versionId']}",
            "etag": f'W/"{resource["meta"]["versionId"]}"',
        },
    }


def target(entry: Entry) -> tuple[str, str, int | None]:
    """The type, id and version a read entry's URL names."""
    parts = entry.url.split("?", 1)[0].split("/")
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1], None
    if len(parts) == 4 and parts[2] == "_history" and parts[3].isdigit() and parts[1]:
        return parts[0], parts[1], int(parts[3])
    raise Malformed(
        f"Bundle.entry[{entry.index}].request.url: a read in a Bundle is Type/id or "
        f"Type/id/_history/vid, not {entry.url}",
        field=f"Bundle.entry[{entry.index}].request.url",
    )


def search_of(entry: Entry) -> tuple[str, list[tuple[str, str]]] | None:
    """The type and parameters of a search entry (``Type`` or ``Type?params``), or None for a
    read."""
    path, _sep, query = entry.url.partition("?")
    if not path or "/" in path:
        return None
    reason = unserved_format(query.encode())
    if reason is not None:
        raise Malformed(reason, field=f"Bundle.entry[{entry.index}].request.url")
    return path, parse_qsl(query, keep_blank_values=True)


async def answer_get(
    entry: Entry, reader: Reader, searcher: Searcher, issuer: str
) -> dict[str, Any]:
    """The response entry of a GET: a search's searchset Bundle, or a read's resource."""
    search = search_of(entry)
    if search is None:
        return await read(entry, reader, issuer)
    bundle = await searcher(*search)
    return {"resource": bundle, "response": {"status": "200 OK"}}


async def read(entry: Entry, reader: Reader, issuer: str) -> dict[str, Any]:
    """The response entry of a read: the resource, as ``GET [base]/Type/id`` would return it."""
    kind, ident, version = target(entry)
    resource = await reader(kind, ident, version)
    return {
        **_located(resource, issuer),
        "resource": resource,
        "response": {
            "status": "200 OK",
            "etag": f'W/"{resource["meta"]["versionId"]}"',
            **(
                {"lastModified": resource["meta"]["lastUpdated"]}
                if resource["meta"].get("lastUpdated")
                else {}
            ),
        },
    }


def refused(entry: Entry, exc: DomainError | HTTPException) -> dict[str, Any]:
    """The response entry of an entry refused on its own (a batch goes on with the next)."""
    if isinstance(exc, DomainError):
        kind = entry.url.split("/", 1)[0].split("?", 1)[0]
        status, body = error_outcome(exc, kind or None, entry=entry.index)
    else:
        status = exc.status_code
        body = outcome_body(status, str(exc.detail), code=issue_code(status))
        body["issue"][0]["expression"] = [f"Bundle.entry[{entry.index}]"]
    return {"response": {"status": status_line(status), "outcome": body}}
