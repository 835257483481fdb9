"""The access log: who read or wrote which person's data, when, why and with what outcome.

Queried by person (the patient's right to know who accessed their record: patientdatalagen 8:6,
pasientjournalloven § 18) or by organization (an organization's own log follow-up, HSLF-FS
2016:40 4:9). An auditor sees its own organization's entries, and all entries about a person its
organization takes part in the care of.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from pydantic import BaseModel

from app.api.deps import AuditSearcher, PageDep, UowDep
from app.api.errors import errors_for
from app.api.v1.common import ListPage, page_of, router
from app.services import audit as service
from app.store.repositories import AccessEntry

api = router("/api/v1", "access log")


class AccessEntryRead(BaseModel):
    """One access to personal data."""

    id: int
    at: datetime
    client_id: str
    organization_id: str
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
    assert entry.id is not None
    return AccessEntryRead(
        id=entry.id,
        at=entry.at,
        client_id=entry.client_id,
        organization_id=entry.organization_id,
        user_id=entry.user_id,
        action=entry.action,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        person_id=entry.person_id,
        outcome=entry.outcome,
        purpose_of_use=entry.purpose,
        request_id=entry.request_id,
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
        str | None, Query(description="every access to this person's data, by anyone")
    ] = None,
    organization_id: Annotated[
        str | None,
        Query(description="accesses made by this organization; default: the caller's own"),
    ] = None,
    since: Annotated[datetime | None, Query(description="entries at or after this time")] = None,
) -> dict[str, object]:
    """Search the access log by person or by organization, oldest first."""
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
