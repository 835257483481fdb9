"""History Bundles (https://hl7.org/fhir/R4/http.html#history): their entries and links, and the
history of the access log, which is paged in the database.

Every version is an entry with the request that made it (the first a create, the later ones
updates) and the ETag of the version; the Bundle links to itself, and to the next page when
there is one (a ``_cursor`` that continues exactly after the last entry of the page).

The access log is append-only and may be very long: its type history is read newest first from
the table itself, a page at a time, keyed on the entry's id (``id < cursor``), so any depth costs
one indexed range of ``_count`` rows (the generic type history collects every version in
memory, which only suits types of bounded size).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.datastructures import URL

from app.domain.errors import InvalidInput
from app.fhir.cursors import cursor_text
from app.fhir.mappers import auditevent
from app.security.access import Actor
from app.services import audit as audit_service
from app.store.unit_of_work import UnitOfWork

Resource = dict[str, Any]


def history_entry(base: str, resource: Resource) -> dict[str, Any]:
    """The entry of one version; ``base`` is the server's FHIR base URL."""
    kind, ident, version = resource["resourceType"], resource["id"], resource["meta"]["versionId"]
    first = version == "1"
    return {
        "fullUrl": f"{base}/{kind}/{ident}",
        "resource": resource,
        "request": {
            "method": "POST" if first else "PUT",
            "url": kind if first else f"{kind}/{ident}",
        },
        "response": {
            "status": "201 Created" if first else "200 OK",
            "etag": f'W/"{version}"',
            **(
                {"lastModified": resource["meta"]["lastUpdated"]}
                if "lastUpdated" in resource["meta"]
                else {}
            ),
        },
    }


def history_links(url: URL, next_cursor: str | None) -> list[dict[str, str]]:
    """``self`` (the request's URL) and, when there is a next page, ``next`` (after the position
    ``next_cursor``, as an opaque ``_cursor``: ``app.fhir.cursors``)."""
    links = [{"relation": "self", "url": str(url)}]
    if next_cursor is not None:
        links.append(
            {
                "relation": "next",
                "url": str(url.include_query_params(_cursor=cursor_text(next_cursor))),
            }
        )
    return links


def history_bundle(
    base: str, url: URL, versions: list[Resource], next_cursor: str | None, total: int | None
) -> dict[str, Any]:
    """A history Bundle of ``versions`` (newest first), ``total`` when it is known."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "history",
        "link": history_links(url, next_cursor),
    }
    if total is not None:
        bundle["total"] = total
    bundle["entry"] = [history_entry(base, v) for v in versions]
    return bundle


async def audit_history(
    uow: UnitOfWork,
    actor: Actor,
    base: str,
    url: URL,
    *,
    since: datetime | None,
    cursor: str | None,
    count: int,
) -> dict[str, Any]:
    """The type history of AuditEvent: the caller's own access-log entries, newest first, at or
    after ``since``. An entry has one version, so its history is the entry itself; the cursor
    is the id of the last entry of the page before."""
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) < 12):
        raise InvalidInput("_cursor is not one this history gave out", field="_cursor")
    page = await audit_service.search_access_log(
        uow,
        actor,
        limit=count,
        cursor=cursor,
        person_id=None,
        organization_id=None,
        since=since,
        newest_first=True,
    )
    resources = [auditevent.to_fhir(e) for e in page.items]
    total = len(resources) if cursor is None and page.next_cursor is None else None
    return history_bundle(base, url, resources, page.next_cursor, total)
