"""API clients: who may call the service, for which organization, with which keys and scopes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Client:
    """A registered API client: it acts for one organization and holds a public JWK set."""

    id: str
    name: str
    organization_id: str
    jwks: dict[str, Any]
    scopes: str
    active: bool
