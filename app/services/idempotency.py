"""Idempotent POSTs: the response to a request sent with an ``Idempotency-Key``, kept for its
replay to the same client."""

from __future__ import annotations

from datetime import datetime

from app.domain.idempotency import StoredResponse
from app.store.unit_of_work import UnitOfWork


async def claim(
    uow: UnitOfWork, scope: str, key: str, not_before: datetime
) -> StoredResponse | None:
    """Hold (scope, key) until this transaction ends, so a concurrent duplicate waits for it;
    the response already stored under the key since ``not_before``, if any."""
    await uow.idempotency.lock(scope, key)
    return await uow.idempotency.get(scope, key, not_before)


async def stored(
    uow: UnitOfWork, scope: str, key: str, not_before: datetime
) -> StoredResponse | None:
    """The response stored under (scope, key) since ``not_before``, if any."""
    return await uow.idempotency.get(scope, key, not_before)


async def keep(
    uow: UnitOfWork, scope: str, key: str, response: StoredResponse, not_before: datetime
) -> None:
    """Store ``response`` under (scope, key), replacing only one older than ``not_before``."""
    await uow.idempotency.put(scope, key, response, not_before)
