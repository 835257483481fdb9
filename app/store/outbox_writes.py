"""The outbox's writes: a new event and its deliveries (an inbox item for each receiver, a push
for each of their subscriptions it goes to), as ``app.store.outbox``'s ``OutboxRepository.queue``
runs them or hands them to another statement as CTEs (``queued``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    DateTime,
    Insert,
    Integer,
    Select,
    String,
    TableValuedAlias,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.domain.delivery import DeliveryState, SubscriptionStatus
from app.domain.outbox import OutboxEvent
from app.store import tables as t

d = t.deliveries
e = t.outbox_events
s = t.subscriptions


# The deliveries' columns a new event's inbox items and pushes are written with.
_COLUMNS = [
    "event_id",
    "receiver_id",
    "subscription_id",
    "stream",
    "event_number",
    "txid",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
]


def _bound(column: str, value: Any) -> Any:
    """``value`` as a parameter of the type of the deliveries' ``column``."""
    return bindparam(None, value, type_=d.c[column].type)


def event_insert(event: OutboxEvent) -> Insert:
    return insert(e).values(
        id=event.id,
        event=event.event,
        stream=event.stream,
        person_id=event.person_id,
        sender_id=event.sender_id,
        payload=event.payload,
        created_at=event.created_at,
        request_id=event.request_id,
    )


# PostgreSQL's outbox writes are built once, their rows bound as arrays at execution
# (``queued_params``): the same text whatever the number of events, receivers or topics, so
# SQLAlchemy compiles them once and asyncpg prepares them once per connection. Composed per
# event (a SELECT per receiver), with their cache key generated anew, they cost about 2 of the
# 5.6 ms of CPU a ``$process-message`` took in process (`python -m bench.inprocess messages`).
# One statement also writes all the events of a request in the order they were queued (as
# separate CTEs, PostgreSQL ran the later ones first).

_EVENT_ARRAYS = {
    "id": String(),
    "event": String(),
    "stream": String(),
    "person_id": String(),
    "sender_id": String(),
    "payload": Text(),  # JSON text, cast to the column's type in SQL
    "created_at": DateTime(timezone=True),
    "request_id": String(),
}
# One row per event and receiver, in the order the events were queued.
_TARGET_ARRAYS = {
    "event_id": String(),
    "stream": String(),
    "person_id": String(),
    "receiver_id": String(),
    "at": DateTime(timezone=True),
}
# One row per event and topic it is pushed to subscriptions of.
_TOPIC_ARRAYS = {"event_id": String(), "topic": String()}


def queued_params(
    event: OutboxEvent, receivers: Sequence[str], topics: Sequence[str], now: datetime
) -> dict[str, list[Any]]:
    """The arrays ``queued_once`` and ``OutboxRepository.queue`` write one event with; the
    arrays of events queued one after another are their concatenation (``UnitOfWork.defer``)."""
    return {
        "ob_event_id": [event.id],
        "ob_event_event": [event.event],
        "ob_event_stream": [event.stream],
        "ob_event_person_id": [event.person_id],
        "ob_event_sender_id": [event.sender_id],
        "ob_event_payload": [json.dumps(event.payload)],
        "ob_event_created_at": [event.created_at],
        "ob_event_request_id": [event.request_id],
        "ob_target_event_id": [event.id] * len(receivers),
        "ob_target_stream": [event.stream] * len(receivers),
        "ob_target_person_id": [event.person_id] * len(receivers),
        "ob_target_receiver_id": list(receivers),
        "ob_target_at": [now] * len(receivers),
        "ob_topic_event_id": [event.id] * len(topics),
        "ob_topic_topic": list(topics),
    }


def _unnested(name: str, arrays: dict[str, Any]) -> TableValuedAlias:
    """``unnest(<one bound array per column>) WITH ORDINALITY AS name(<columns>, n)``."""
    return (
        func.unnest(*(bindparam(f"{name}_{c}", type_=ARRAY(a)) for c, a in arrays.items()))
        .table_valued(*arrays, with_ordinality="n")
        .render_derived(name)
    )


@cache
def _events_written() -> Insert:
    """The events' insert (PostgreSQL)."""
    rows = _unnested("ob_event", _EVENT_ARRAYS)
    columns = list(_EVENT_ARRAYS)
    return insert(e).from_select(
        columns,
        select(
            *(cast(rows.c[c], e.c.payload.type) if c == "payload" else rows.c[c] for c in columns)
        ),
    )


@cache
def _deliveries_written() -> Insert:
    """The events' inbox items and pushes (PostgreSQL), in the order the events were queued:
    the ids follow it, and readers order a transaction's rows by id."""
    targets = _unnested("ob_target", _TARGET_ARRAYS)
    topics = _unnested("ob_topic", _TOPIC_ARRAYS)
    txid = cast(cast(func.pg_current_xact_id(), String), BigInteger)

    def row(receiver: Any, subscription: Any, state: DeliveryState, due: Any, kind: int) -> Any:
        values = (
            targets.c.event_id,
            receiver,
            subscription,
            targets.c.stream,
            cast(null(), Integer),
            txid,
            literal(state.value, String),
            literal(0, Integer),
            due,
            targets.c.at,
        )
        # _COLUMNS, then the order of the rows: by event and receiver, the inbox item first.
        return (
            *(v.label(c) for v, c in zip(values, _COLUMNS, strict=True)),
            targets.c.n.label("n"),
            literal(kind, Integer).label("kind"),
        )

    inbox = select(
        *row(
            targets.c.receiver_id,
            cast(null(), String),
            DeliveryState.INBOX,
            cast(null(), DateTime(timezone=True)),
            0,
        )
    )
    pushes = (
        select(*row(s.c.organization_id, s.c.id, DeliveryState.PENDING, targets.c.at, 1))
        .select_from(targets)
        .join(s, s.c.organization_id == targets.c.receiver_id)
        .join(topics, and_(topics.c.event_id == targets.c.event_id, topics.c.topic == s.c.topic))
        .where(
            s.c.status != SubscriptionStatus.OFF.value,
            or_(s.c.patient_id.is_(None), s.c.patient_id == targets.c.person_id),
        )
    )
    rows = union_all(inbox, pushes).subquery("written")
    return insert(d).from_select(
        _COLUMNS, select(*(rows.c[c] for c in _COLUMNS)).order_by(rows.c.n, rows.c.kind)
    )


@cache
def queued_once() -> tuple[CTE, CTE]:
    """The events' and their deliveries' inserts as data-modifying CTEs for another statement
    to carry (PostgreSQL), bound by ``queued_params``."""
    return (
        _events_written().returning(e.c.id).cte("ob_events"),
        _deliveries_written().returning(d.c.id).cte("ob_deliveries"),
    )


@cache
def queuing() -> Insert:
    """``OutboxRepository.queue``'s one statement (PostgreSQL): the deliveries, the event
    written by a CTE."""
    return _deliveries_written().add_cte(queued_once()[0])


def sqlite_deliveries(
    event: OutboxEvent, receivers: Sequence[str], topics: Sequence[str], now: datetime
) -> Insert:
    """``OutboxRepository.queue``'s deliveries on SQLite, whose writers are serial (every
    ``txid`` 0)."""
    txid = literal(0, BigInteger)

    def row(receiver: Any, subscription: Any, state: DeliveryState, due: Any) -> Select[Any]:
        # In the order of _COLUMNS.
        return select(
            _bound("event_id", event.id),
            receiver,
            subscription,
            _bound("stream", event.stream),
            _bound("event_number", None),
            txid,
            _bound("state", state.value),
            _bound("attempts", 0),
            due,
            _bound("created_at", now),
        )

    inbox = [
        row(
            _bound("receiver_id", r),
            _bound("subscription_id", None),
            DeliveryState.INBOX,
            _bound("next_attempt_at", None),
        )
        for r in receivers
    ]
    pushes = row(
        s.c.organization_id, s.c.id, DeliveryState.PENDING, _bound("next_attempt_at", now)
    ).where(
        s.c.organization_id.in_(receivers),
        s.c.status != SubscriptionStatus.OFF.value,
        s.c.topic.in_(topics),
        s.c.patient_id.is_(None)
        if event.person_id is None
        else or_(s.c.patient_id.is_(None), s.c.patient_id == event.person_id),
    )
    return insert(d).from_select(_COLUMNS, union_all(*inbox, pushes))
