"""The administrator's reads of the registered API clients (registration, keys and enabling are
``app.security.clients``)."""

from __future__ import annotations

from app.domain.clients import Client
from app.services.lookups import present
from app.store.paging import Page
from app.store.unit_of_work import UnitOfWork


async def list_clients(uow: UnitOfWork, *, limit: int, after: str | None = None) -> Page[Client]:
    """Registered clients in id order, one page after the cursor ``after``."""
    return await uow.clients.page(limit=limit, after=after)


async def get_client(uow: UnitOfWork, client_id: str) -> Client:
    """The registered client with this id; NotFound otherwise."""
    return present(await uow.clients.get(client_id), "client", client_id)
