"""The outbox, the deliveries of its events and the subscriptions they are pushed to.

Events and their deliveries are written in the caller's transaction; the dispatcher claims
pending deliveries in transactions of its own. On PostgreSQL a claim is ``FOR UPDATE SKIP
LOCKED`` plus a lease (``claimed_by``/``claimed_until``), so several dispatchers never push the same
delivery at once; SQLite's writers are serial (``BEGIN IMMEDIATE``), so a claim there is simply
the first writer's.

Ordering: readers see deliveries in (txid, id) order and, on PostgreSQL, only those below a cutoff
(``app.store.outbox_visibility``): rows of transactions that ended before every transaction of
this database still holding an xid. A row id is taken when the row is inserted, not when it
commits, so without that rule a reader could pass row 10 while its transaction is still open and
row 11 is already visible, and never see 10. Transactions of other databases on the same server
(and open transactions that have written nothing) delay no reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.delivery import (
    DeliveryState,
    Outcome,
    PayloadContent,
    SubscriptionStatus,
    Topic,
)
from app.domain.outbox import Delivery, OutboxEvent, Subscription
from app.store import tables as t
from app.store.breakers import BreakerRepository
from app.store.breakers import endpoint_breakers as breakers
from app.store.fair_claims import due_pushes, probes_among
from app.store.outbox_visibility import settled
from app.store.outbox_writes import (
    event_insert,
    queued_once,
    queued_params,
    queuing,
    sqlite_deliveries,
)
from app.store.paging import Page

d = t.deliveries
e = t.outbox_events
s = t.subscriptions


def _event(row: Row[Any]) -> OutboxEvent:
    return OutboxEvent(
        id=row.event_id,
        event=row.event,
        stream=row.stream,
        person_id=row.person_id,
        sender_id=row.sender_id,
        payload=dict(row.payload),
        created_at=row.event_created_at,
        request_id=row.request_id,
    )


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        event=_event(row),
        receiver_id=row.receiver_id,
        subscription_id=row.subscription_id,
        event_number=row.event_number,
        txid=row.txid,
        state=DeliveryState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        outcome=Outcome(row.outcome) if row.outcome else None,
        outcome_detail=row.outcome_detail,
        acknowledged_at=row.acknowledged_at,
    )


def subscription_from(row: Row[Any]) -> Subscription:
    return Subscription(
        id=row.id,
        organization_id=row.organization_id,
        topic=Topic(row.topic),
        patient_id=row.patient_id,
        endpoint=row.endpoint,
        secret=row.secret,
        content=PayloadContent(row.content),
        heartbeat_seconds=row.heartbeat_seconds,
        status=SubscriptionStatus(row.status),
        events_count=row.events_count,
        last_error=row.last_error,
        heartbeat_at=row.heartbeat_at,
        created_at=row.created_at,
    )


def counted_subscriptions() -> Select[Any]:
    """Subscriptions with the number of pushes queued for each since its start."""
    pushes = (
        select(func.count())
        .where(d.c.subscription_id == s.c.id)
        .correlate(s)
        .scalar_subquery()
        .label("events_count")
    )
    return select(s, pushes)


def _joined() -> Select[Any]:
    return select(
        d,
        e.c.event,
        e.c.person_id,
        e.c.sender_id,
        e.c.payload,
        e.c.created_at.label("event_created_at"),
        e.c.request_id,
    ).join(e, e.c.id == d.c.event_id)


class OutboxRepository:
    """Events, their deliveries, and the dispatcher's claims on them."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    def _settled(self) -> ColumnElement[bool]:
        """Rows of transactions that can no longer commit before a row already visible."""
        if not self._postgres:
            return literal(True)
        return settled(d.c.txid)

    async def add_event(self, event: OutboxEvent) -> None:
        """Write an event to the outbox."""
        await self._conn.execute(event_insert(event))

    async def queue(
        self, event: OutboxEvent, receivers: Sequence[str], topics: Sequence[str], now: datetime
    ) -> int:
        """Write ``event`` with an inbox item for each of ``receivers``, and a push for each
        subscription of theirs that is notified (active or in error), is to one of ``topics``
        and is for no other person than the event's; the number of pushes.

        The insert selects the subscriptions itself: on PostgreSQL one statement built once
        (``queued_once``, the event written by a CTE of it), on SQLite two. Nothing of a
        subscription is written: its pushes are numbered when the dispatcher first claims them.
        """
        if self._postgres:
            written = await self._conn.execute(
                queuing(), queued_params(event, receivers, topics, now)
            )
            return int(written.rowcount) - len(receivers)
        await self.add_event(event)
        if not receivers:
            return 0
        statement = sqlite_deliveries(event, receivers, topics, now)
        return int((await self._conn.execute(statement)).rowcount) - len(receivers)

    def queued(
        self, event: OutboxEvent, receivers: Sequence[str], topics: Sequence[str], now: datetime
    ) -> tuple[tuple[CTE, ...], dict[str, list[Any]]]:
        """``queue``'s writes as data-modifying CTEs for another statement to carry, and their
        arrays (PostgreSQL)."""
        assert self._postgres, "SQLite has no data-modifying CTEs"
        return queued_once(), queued_params(event, receivers, topics, now)

    async def inbox(
        self,
        receivers: Sequence[str] | Select[Any],
        *,
        after: tuple[int, int] | None,
        limit: int,
        event: str | None,
        person_id: str | None,
        unacknowledged: bool = False,
    ) -> Page[Delivery]:
        """The receivers' inbox items after the cursor, oldest first (or only those not yet
        acknowledged)."""
        query = _joined().where(
            d.c.receiver_id.in_(receivers),
            d.c.state == DeliveryState.INBOX.value,
            self._settled(),
        )
        if after is not None:
            query = query.where(tuple_(d.c.txid, d.c.id) > tuple_(*after))
        if event is not None:
            query = query.where(e.c.event == event)
        if person_id is not None:
            query = query.where(e.c.person_id == person_id)
        if unacknowledged:
            query = query.where(d.c.outcome.is_(None))
        rows = await self._conn.execute(query.order_by(d.c.txid, d.c.id).limit(limit + 1))
        items = [_delivery(r) for r in rows]
        if len(items) > limit:
            return Page(items[:limit], items[limit - 1].cursor)
        return Page(items, None)

    async def get(self, delivery_id: int) -> Delivery | None:
        """The delivery with this id, or None."""
        row = (await self._conn.execute(_joined().where(d.c.id == delivery_id))).first()
        return _delivery(row) if row is not None else None

    async def inbox_item_of(
        self, event_id: str, receivers: Sequence[str] | Select[Any]
    ) -> int | None:
        """The id of the receivers' inbox item of an event, if they were sent it."""
        found = (
            await self._conn.execute(
                select(d.c.id)
                .where(
                    d.c.event_id == event_id,
                    d.c.receiver_id.in_(receivers),
                    d.c.state == DeliveryState.INBOX.value,
                )
                .order_by(d.c.id)
                .limit(1)
            )
        ).scalar()
        return int(found) if found is not None else None

    async def acknowledge(
        self, delivery_id: int, outcome: Outcome, detail: str | None, at: datetime
    ) -> None:
        """Record the receiver's acknowledgement of an inbox item."""
        await self._conn.execute(
            update(d)
            .where(d.c.id == delivery_id)
            .values(outcome=outcome.value, outcome_detail=detail, acknowledged_at=at)
        )

    async def claim(
        self,
        worker: str,
        *,
        now: datetime,
        lease_until: datetime,
        limit: int,
        per_endpoint: int,
    ) -> list[tuple[Delivery, Subscription]]:
        """Claim up to ``limit`` due pushes for ``worker`` until ``lease_until``.

        Which ones is fair over endpoints (``app.store.fair_claims``: endpoints in turn, at most
        ``per_endpoint`` in flight to each, none to one whose breaker is open). Only the oldest
        pending push of each (subscription, stream) is due: event N+1 of an episode never
        overtakes event N, whether N waits for its next attempt or is being pushed by another
        dispatcher. Each claim counts as an attempt, so a push that crashes every dispatcher
        that tries it still ends as a dead letter.
        """
        picked = due_pushes(
            now=now, limit=limit, per_endpoint=per_endpoint, settled=self._settled()
        )
        # Locked by the outer statement: FOR UPDATE does not go with the window function. The
        # conditions are checked again on the locked row, which another claimer may have taken.
        query = select(d.c.id).where(
            d.c.id.in_(picked),
            d.c.state == DeliveryState.PENDING.value,
            or_(d.c.claimed_until.is_(None), d.c.claimed_until < now),
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True, of=d)
        ids = list((await self._conn.execute(query)).scalars())
        if not ids:
            return []
        probes: dict[int, str] = {
            row.id: row.endpoint_origin for row in await self._conn.execute(probes_among(ids))
        }
        if probes:
            # A half-open endpoint's one probe is this claimer's only if it takes it first.
            taken = await BreakerRepository(self._conn).take_probes(
                list(set(probes.values())), now=now, until=lease_until
            )
            ids = [i for i in ids if i not in probes or probes[i] in taken]
            if not ids:
                return []
        await self._conn.execute(
            update(d)
            .where(d.c.id.in_(ids))
            .values(claimed_by=worker, claimed_until=lease_until, attempts=d.c.attempts + 1)
        )
        await self._number(ids)
        rows = await self._conn.execute(_joined().where(d.c.id.in_(ids)).order_by(d.c.txid, d.c.id))
        deliveries = [_delivery(r) for r in rows]
        subscriptions = await self._subscriptions({x.subscription_id or "" for x in deliveries})
        return [(x, subscriptions[x.subscription_id or ""]) for x in deliveries]

    async def _number(self, ids: Sequence[int]) -> None:
        """Give claimed pushes that have none their event number in their subscription.

        A number is given once, at the first claim, and kept through every retry, so a receiver
        recognises a repeat by it. Subscription rows are taken in id order: two dispatchers
        numbering at once wait for each other instead of deadlocking.
        """
        rows = await self._conn.execute(
            select(d.c.id, d.c.subscription_id)
            .where(d.c.id.in_(ids), d.c.event_number.is_(None))
            .order_by(d.c.subscription_id, d.c.txid, d.c.id)
        )
        unnumbered: dict[str, list[int]] = {}
        for row in rows:
            unnumbered.setdefault(row.subscription_id, []).append(row.id)
        for subscription_id, pushes in unnumbered.items():
            last = (
                await self._conn.execute(
                    update(s)
                    .where(s.c.id == subscription_id)
                    .values(numbered=s.c.numbered + len(pushes))
                    .returning(s.c.numbered)
                )
            ).scalar_one()
            first = int(last) - len(pushes) + 1
            for offset, push_id in enumerate(pushes):
                await self._conn.execute(
                    update(d).where(d.c.id == push_id).values(event_number=first + offset)
                )

    async def _subscriptions(self, ids: set[str]) -> dict[str, Subscription]:
        rows = await self._conn.execute(counted_subscriptions().where(s.c.id.in_(ids)))
        return {r.id: subscription_from(r) for r in rows}

    async def finish(
        self,
        delivery_id: int,
        worker: str,
        *,
        state: DeliveryState,
        next_attempt_at: datetime | None,
        error: str | None,
        delivered_at: datetime | None,
    ) -> bool:
        """Record the result of a push; False when the worker's lease was lost meanwhile."""
        result = await self._conn.execute(
            update(d)
            .where(
                d.c.id == delivery_id,
                d.c.claimed_by == worker,
                d.c.state == DeliveryState.PENDING.value,
            )
            .values(
                state=state.value,
                next_attempt_at=next_attempt_at,
                last_error=error,
                delivered_at=delivered_at,
                claimed_by=None,
                claimed_until=None,
            )
        )
        return bool(result.rowcount)

    async def subscription_result(
        self, subscription_id: str, status: SubscriptionStatus, error: str | None, now: datetime
    ) -> None:
        """A push to the subscription succeeded or failed: its status follows (unless ended).

        A success also counts as a sign of life, so no heartbeat is due for another period.
        """
        values: dict[str, Any] = {"status": status.value, "last_error": error, "updated_at": now}
        changed = or_(s.c.status != status.value, s.c.last_error.is_distinct_from(error))
        if status is SubscriptionStatus.ACTIVE:
            values["heartbeat_at"] = now
            changed = or_(changed, s.c.heartbeat_seconds.is_not(None))
        # Only when something changes: the row is also locked by every transaction that counts
        # an event for the subscription, so a write per push would queue behind them.
        await self._conn.execute(
            update(s)
            .where(
                s.c.id == subscription_id,
                s.c.status != SubscriptionStatus.OFF.value,
                changed,
            )
            .values(**values)
        )

    async def end_pushes(self, subscription_id: str, now: datetime) -> None:
        """A deleted subscription's pending pushes are dead; they are not delivered anywhere."""
        await self._conn.execute(
            update(d)
            .where(
                d.c.subscription_id == subscription_id,
                d.c.state == DeliveryState.PENDING.value,
            )
            .values(
                state=DeliveryState.DEAD.value,
                last_error=f"subscription ended at {now.isoformat()}",
                next_attempt_at=None,
                claimed_by=None,
                claimed_until=None,
            )
        )

    async def dead_letters(
        self, *, limit: int, after: int | None, subscription_id: str | None
    ) -> Page[Delivery]:
        """Pushes that failed every attempt, in id order."""
        query = _joined().where(d.c.state == DeliveryState.DEAD.value)
        if after is not None:
            query = query.where(d.c.id > after)
        if subscription_id is not None:
            query = query.where(d.c.subscription_id == subscription_id)
        rows = await self._conn.execute(query.order_by(d.c.id).limit(limit + 1))
        items = [_delivery(r) for r in rows]
        if len(items) > limit:
            return Page(items[:limit], str(items[limit - 1].id))
        return Page(items, None)

    async def replay(self, delivery_ids: Sequence[int], now: datetime) -> int:
        """Make dead pushes of live subscriptions pending again, with a fresh attempt budget."""
        if not delivery_ids:
            return 0
        live = select(s.c.id).where(s.c.status != SubscriptionStatus.OFF.value)
        result = await self._conn.execute(
            update(d)
            .where(
                d.c.id.in_(delivery_ids),
                d.c.state == DeliveryState.DEAD.value,
                d.c.subscription_id.in_(live),
            )
            .values(
                state=DeliveryState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                last_error=None,
            )
        )
        return int(result.rowcount)

    async def due_heartbeats(self, now: datetime) -> list[Subscription]:
        """Live subscriptions with a heartbeat period and nothing sent for that long."""
        # Not to an endpoint whose breaker is open: the heartbeat would only wait for it.
        rows = await self._conn.execute(
            counted_subscriptions()
            .outerjoin(breakers, breakers.c.origin == s.c.endpoint_origin)
            .where(
                s.c.status != SubscriptionStatus.OFF.value,
                s.c.heartbeat_seconds.is_not(None),
                breakers.c.opened_until.is_(None),
            )
        )
        found = [subscription_from(r) for r in rows]
        return [
            x
            for x in found
            if x.heartbeat_seconds is not None
            and (now - x.heartbeat_at).total_seconds() >= x.heartbeat_seconds
        ]

    async def claim_heartbeat(self, subscription: Subscription, now: datetime) -> bool:
        """Take the subscription's due heartbeat; False when another dispatcher took it."""
        result = await self._conn.execute(
            update(s)
            .where(s.c.id == subscription.id, s.c.heartbeat_at == subscription.heartbeat_at)
            .values(heartbeat_at=now)
        )
        return bool(result.rowcount)

    async def counts(self) -> dict[str, int]:
        """Pushes per state, and inbox items (for the metrics)."""
        rows = await self._conn.execute(select(d.c.state, func.count()).group_by(d.c.state))
        return {row[0]: int(row[1]) for row in rows}
