"""Revoked tokens: a disabled client's live tokens are refused on every process within seconds.

Disabling a client records, in the database, that its tokens issued before that moment are void.
Each process keeps a copy of the list and reads it again when the copy is older than a few
seconds (``token_revocation_cache_seconds``), beside its cache of verified tokens: one small
query per process every few seconds instead of one per request. Only revocations younger than
the longest token lifetime can still matter, so the list stays as short as the number of
clients disabled in the last hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.security.tokens import AccessClaims
from app.store.unit_of_work import UnitOfWork


class RevocationList:
    """This process's copy of the revocation list."""

    def __init__(self, ttl: timedelta, max_lifetime: timedelta) -> None:
        self._ttl = ttl
        self._max_lifetime = max_lifetime
        self._cutoffs: dict[str, datetime] = {}
        self._read_at: datetime | None = None

    async def revoked(self, uow: UnitOfWork, claims: AccessClaims, now: datetime) -> bool:
        """Whether the token was issued before its client was disabled."""
        if self._read_at is None or now - self._read_at >= self._ttl:
            # Concurrent requests may each read it once; the answers are the same.
            self._cutoffs = await uow.clients.revocations(since=now - self._max_lifetime * 2)
            self._read_at = now
        cutoff = self._cutoffs.get(claims.client_id)
        return cutoff is not None and claims.issued_at < cutoff
