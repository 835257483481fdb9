"""The access log: who read or wrote which person's data, when, why and with what outcome.

Each organization reads the entries of its own accesses (an organization's log follow-up,
HSLF-FS 2016:40 4:9): a unit's client those made for its unit, a principal's client those of its
principal. The complete extract for one person, every organization's entries (the patient's
right: patientdatalagen 8:6, pasientjournalloven § 18), needs the scope `samverkan/log-extract`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from pydantic import BaseModel

from app.api.v1.common import ListPage, page_of, router
from app.domain.access_log import AccessEntry
from app.http.deps import AuditSearcher, PageDep, UowDep
from app.http.errors import errors_for
from app.http.shapes import shaped
from app.http.values import Instant
from app.services import audit as service

api = router("/api/v1", "access log")


class AccessEntryRead(BaseModel):
    """One access to personal data."""

    id: int
    at: datetime
    client_id: str
    organization_id: str
    principal_id: str
    unit_id: str | None
    user_id: str | None
    action: str
    resource_type: str
    resource_id: str | None
    person_id: str | None
    outcome: str
    purpose_of_use: str
    request_id: str | None


def entry_read(entry: AccessEntry) -> AccessEntryRead:
    """The API shape of an access-log entry."""
    return shaped(
        AccessEntryRead,
        entry,
        principal_id=entry.principal_id or entry.organization_id,
        purpose_of_use=entry.purpose,
    )


@api.get(
    "/access-log",
    response_model=ListPage[AccessEntryRead],
    responses=errors_for(401, 403, 404, 422),
)
async def search_access_log(
    auditor: AuditSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    person_id: Annotated[
        str | None,
        Query(
            description="accesses to this person's data: the caller's own, or, with the scope "
            "`samverkan/log-extract`, every organization's (the person's complete extract); "
            "the caller must be a party to a record about the person"
        ),
    ] = None,
    organization_id: Annotated[
        str | None,
        Query(description="accesses made by this client organization (one within the caller's)"),
    ] = None,
    since: Annotated[Instant | None, Query(description="entries at or after this time")] = None,
) -> dict[str, object]:
    """Search the caller's own access log, or one person's complete extract, oldest first."""
    result = await service.search_access_log(
        uow,
        auditor,
        limit=page.limit,
        cursor=page.cursor,
        person_id=person_id,
        organization_id=organization_id,
        since=since,
    )
    return page_of(request, result.items, result.next_cursor, entry_read)
