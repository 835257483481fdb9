"""The access log's entry: who read or wrote what about whom, when, why (DESIGN §10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One access-log entry: who read or wrote what about whom, when, why, with what outcome."""

    at: datetime
    client_id: str
    organization_id: str
    user_id: str | None
    action: str
    resource_type: str
    resource_id: str | None
    person_id: str | None
    outcome: str
    purpose: str
    request_id: str | None = None
    id: int | None = None
    principal_id: str | None = None
    unit_id: str | None = None
