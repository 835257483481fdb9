"""Subscriptions, as their organizations manage them (the dispatcher reads them in the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.breaker import origin_of
from app.domain.delivery import DeliveryState, SubscriptionStatus
from app.domain.outbox import Subscription
from app.store import tables as t
from app.store.outbox import counted_subscriptions, subscription_from
from app.store.paging import Page

d = t.deliveries
s = t.subscriptions


class SubscriptionRepository:
    """Subscriptions, as their organizations manage them."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, subscription: Subscription, now: datetime) -> None:
        """Insert a new subscription."""
        await self._conn.execute(
            insert(s).values(
                id=subscription.id,
                organization_id=subscription.organization_id,
                topic=subscription.topic.value,
                patient_id=subscription.patient_id,
                endpoint=subscription.endpoint,
                endpoint_origin=origin_of(subscription.endpoint),
                secret=subscription.secret,
                content=subscription.content.value,
                heartbeat_seconds=subscription.heartbeat_seconds,
                status=subscription.status.value,
                numbered=0,
                last_error=None,
                heartbeat_at=now,
                created_at=now,
                updated_at=now,
            )
        )

    async def live_count(self, organization_id: str, *, lock: bool = False) -> int:
        """How many live subscriptions the organization has.

        ``lock`` first locks the organization's row (PostgreSQL; SQLite's writers are serial),
        so that two creations at once cannot both pass a limit on this count.
        """
        if lock:
            o = t.organizations
            await self._conn.execute(
                select(o.c.id).where(o.c.id == organization_id).with_for_update()
            )
        count = (
            await self._conn.execute(
                select(func.count()).where(
                    s.c.organization_id == organization_id,
                    s.c.status != SubscriptionStatus.OFF.value,
                )
            )
        ).scalar_one()
        return int(count)

    async def get(self, subscription_id: str) -> Subscription | None:
        """The subscription with this id (also an ended one), or None."""
        row = (
            await self._conn.execute(counted_subscriptions().where(s.c.id == subscription_id))
        ).first()
        return subscription_from(row) if row is not None else None

    async def page(
        self, organization_ids: Sequence[str], *, limit: int, after: str | None
    ) -> Page[Subscription]:
        """The live subscriptions of these organizations, in id order."""
        query = counted_subscriptions().where(
            s.c.organization_id.in_(organization_ids),
            s.c.status != SubscriptionStatus.OFF.value,
        )
        if after is not None:
            query = query.where(s.c.id > after)
        rows = await self._conn.execute(query.order_by(s.c.id).limit(limit + 1))
        items = [subscription_from(r) for r in rows]
        if len(items) > limit:
            return Page(items[:limit], items[limit - 1].id)
        return Page(items, None)

    async def end(self, subscription_id: str, now: datetime) -> None:
        """Turn the subscription off (it stays, for the dead letters that name it)."""
        await self._conn.execute(
            update(s)
            .where(s.c.id == subscription_id)
            .values(status=SubscriptionStatus.OFF.value, updated_at=now)
        )

    async def pending_count(self, subscription_id: str) -> int:
        """Pushes to the subscription that wait for delivery."""
        count = (
            await self._conn.execute(
                select(func.count()).where(
                    and_(
                        d.c.subscription_id == subscription_id,
                        d.c.state == DeliveryState.PENDING.value,
                    )
                )
            )
        ).scalar_one()
        return int(count)
