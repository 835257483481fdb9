"""Administration: the API clients that may call this service, and the organization of each."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.common import ListPage, page_of, router
from app.domain.clients import Client
from app.http.deps import Administrator, NowDep, PageDep, UowDep
from app.http.errors import errors_for
from app.http.shapes import shaped
from app.security.clients import register_client, set_active
from app.services.admin import get_client, list_clients

api = router("/api/v1/admin", "admin")


class ClientCreate(BaseModel):
    """A client to register: its public keys, its organization and the scopes it may get."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "organization_id": "kommun-2580",
                    "name": "Luleå kommun, verksamhetssystem",
                    "jwks": {"keys": [{"kty": "EC", "crv": "P-384", "x": "…", "y": "…"}]},
                    "scopes": "system/*.cruds",
                }
            ]
        },
    )

    organization_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    jwks: dict[str, Any] = Field(description="public JWK set (RSA ≥ 2048 bits or EC P-384)")
    scopes: str = Field(
        default="system/*.cruds",
        max_length=2000,
        description="space-separated SMART v2 system scopes the client may be granted",
    )
    client_id: str | None = Field(
        default=None,
        min_length=3,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$",
        description="default: generated from the organization id",
    )


class ClientRead(BaseModel):
    """A registered client."""

    client_id: str
    organization_id: str
    name: str
    jwks: dict[str, Any]
    scopes: str
    active: bool


class ClientActivation(BaseModel):
    """Enable or disable a client."""

    model_config = ConfigDict(extra="forbid")

    active: bool


def client_read(client: Client) -> ClientRead:
    """The API shape of a client."""
    return shaped(ClientRead, client, client_id=client.id)


@api.post(
    "/clients", status_code=201, response_model=ClientRead, responses=errors_for(401, 403, 422)
)
async def register_api_client(_admin: Administrator, body: ClientCreate, uow: UowDep) -> ClientRead:
    """Register an API client for an organization."""
    client = await register_client(uow, **body.model_dump())
    return client_read(client)


@api.get("/clients", response_model=ListPage[ClientRead], responses=errors_for(401, 403))
async def list_api_clients(
    _admin: Administrator, uow: UowDep, page: PageDep, request: Request
) -> dict[str, object]:
    """List the registered API clients."""
    result = await list_clients(uow, limit=page.limit, after=page.cursor)
    return page_of(request, result.items, result.next_cursor, client_read)


@api.get("/clients/{client_id}", response_model=ClientRead, responses=errors_for(401, 403, 404))
async def get_api_client(_admin: Administrator, client_id: str, uow: UowDep) -> ClientRead:
    """Read one registered API client."""
    return client_read(await get_client(uow, client_id))


@api.put(
    "/clients/{client_id}/active",
    response_model=ClientRead,
    responses=errors_for(401, 403, 404, 422),
)
async def set_api_client_active(
    _admin: Administrator, client_id: str, body: ClientActivation, uow: UowDep, now: NowDep
) -> ClientRead:
    """Enable or disable a client; a disabled client is refused new tokens, and the tokens it
    holds are refused within seconds on every process."""
    client = await get_client(uow, client_id)
    return client_read(await set_active(uow, client, body.active, now=now))
