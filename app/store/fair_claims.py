"""Which due pushes a dispatcher claims: endpoints take turns, and a failing one stands aside.

Pushes are not taken oldest first across the whole outbox, where a backlog at one dead endpoint
would be tried before anything else. Instead:

- each endpoint (a subscription URL's origin) has at most ``per_endpoint`` pushes in flight, so
  one that hangs holds a few of the dispatcher's slots, never all of them;
- endpoints take turns: a claim takes the oldest due push of every endpoint, then the second of
  each, and so on (ties by age), so a healthy endpoint's push is in the next claim whatever the
  backlog elsewhere;
- an endpoint whose breaker is open (``app.domain.breaker``) is skipped, and a half-open one gets
  exactly one push, its probe.

Within a (subscription, stream) the order stays as before: only the oldest pending push is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
)

from app.domain.delivery import DeliveryState
from app.store import tables as t
from app.store.breakers import endpoint_breakers as b

d = t.deliveries
s = t.subscriptions
PENDING = DeliveryState.PENDING.value


def room_per_endpoint(now: datetime, per_endpoint: int) -> ColumnElement[int]:
    """How many more pushes may go to a row's endpoint now (over ``subscriptions`` joined to
    its breaker): ``per_endpoint`` when closed, 1 for a half-open probe, else 0."""
    return case(
        (b.c.opened_until.is_(None), literal(per_endpoint)),
        (
            and_(
                b.c.opened_until <= now,
                or_(b.c.probe_until.is_(None), b.c.probe_until < now),
            ),
            literal(1),
        ),
        else_=literal(0),
    )


def due_pushes(
    *, now: datetime, limit: int, per_endpoint: int, settled: ColumnElement[bool]
) -> Select[tuple[int]]:
    """The ids of up to ``limit`` due pushes, endpoints in turn (see the module)."""
    earlier = d.alias("earlier")
    overtakes = exists().where(
        earlier.c.subscription_id == d.c.subscription_id,
        earlier.c.stream == d.c.stream,
        earlier.c.state == PENDING,
        tuple_(earlier.c.txid, earlier.c.id) < tuple_(d.c.txid, d.c.id),
    )
    in_flight = (
        select(s.c.endpoint_origin.label("origin"), func.count().label("pushes"))
        .select_from(d.join(s, s.c.id == d.c.subscription_id))
        .where(d.c.state == PENDING, d.c.claimed_until >= now)
        .group_by(s.c.endpoint_origin)
        .subquery("in_flight")
    )
    room = room_per_endpoint(now, per_endpoint) - func.coalesce(in_flight.c.pushes, 0)
    ranked = (
        select(
            d.c.id,
            d.c.txid,
            room.label("room"),
            func.row_number()
            .over(partition_by=s.c.endpoint_origin, order_by=(d.c.txid, d.c.id))
            .label("turn"),
        )
        .select_from(
            d.join(s, s.c.id == d.c.subscription_id)
            .outerjoin(b, b.c.origin == s.c.endpoint_origin)
            .outerjoin(in_flight, in_flight.c.origin == s.c.endpoint_origin)
        )
        .where(
            d.c.state == PENDING,
            d.c.next_attempt_at <= now,
            or_(d.c.claimed_until.is_(None), d.c.claimed_until < now),
            room > 0,
            ~overtakes,
            settled,
        )
        .subquery("ranked")
    )
    return (
        select(ranked.c.id)
        .where(ranked.c.turn <= ranked.c.room)
        .order_by(ranked.c.turn, ranked.c.txid, ranked.c.id)
        .limit(limit)
    )


def probes_among(ids: list[int]) -> Select[Any]:
    """The (id, origin) of those pushes that go to an endpoint whose breaker is half-open."""
    return (
        select(d.c.id, s.c.endpoint_origin)
        .join(s, s.c.id == d.c.subscription_id)
        .join(b, b.c.origin == s.c.endpoint_origin)
        .where(d.c.id.in_(ids), b.c.opened_until.is_not(None))
    )
