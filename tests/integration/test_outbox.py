"""``emit`` and the outbox store, on SQLite and PostgreSQL: an event commits with its
transaction or not at all, reaches its receivers but never its sender, is numbered per
subscription, and a poll never passes an item whose transaction commits later."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event as sql_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.delivery.outbox import emit
from app.domain.delivery import Outcome, PayloadContent, SubscriptionStatus, Topic
from app.domain.outbox import Subscription
from app.security.access import Actor
from app.services import inbox as inbox_service
from app.store.unit_of_work import UnitOfWork

# Committing on PostgreSQL: it reads the outbox, whose readers pass only rows of transactions
# older than every running one, which a rolled-back test's own transaction never is.
pytestmark = pytest.mark.committing("postgresql")

NOW = datetime.now(UTC)
HOSPITAL = Actor(
    client_id="test-hospital",
    organization_id="region-norrbotten-sunderby-med",
    principal_id="region-norrbotten",
    scopes=frozenset(),
    request_id="req-outbox-1",
)
MUNICIPALITY = Actor(
    client_id="test-municipality",
    organization_id="kommun-2580",
    principal_id="kommun-2580",
    scopes=frozenset(),
)


async def queue(
    uow: UnitOfWork, stream: str, receivers: list[str], event: str = "discharge-ready"
) -> str:
    return await emit(
        uow,
        event=event,
        stream=stream,
        person_id=None,
        receivers=receivers,
        payload={"event": event, "focus": stream},
        now=NOW,
        sender=HOSPITAL,
    )


async def inbox_of(engine: AsyncEngine, organization: str) -> list[str]:
    async with UnitOfWork(engine) as uow:
        page = await uow.outbox.inbox(
            [organization], after=None, limit=100, event=None, person_id=None
        )
    return [item.event.stream for item in page.items]


async def test_an_event_commits_with_its_transaction_or_not_at_all(engine: AsyncEngine) -> None:
    async with UnitOfWork(engine) as uow:
        await queue(uow, "Encounter/rolled-back", ["kommun-2580"])
    assert await inbox_of(engine, "kommun-2580") == []

    async with UnitOfWork(engine) as uow:
        event_id = await queue(
            uow,
            "Encounter/kept",
            [
                "kommun-2580",
                "kommun-2580",
                "region-norrbotten",
                "region-norrbotten-sunderby-med",
                "region-norrbotten-hc-lulea",
            ],
        )
        await uow.commit()
    assert await inbox_of(engine, "kommun-2580") == ["Encounter/kept"]
    assert await inbox_of(engine, "region-norrbotten-hc-lulea") == ["Encounter/kept"]
    # Never the sender, nor the sender's principal.
    assert await inbox_of(engine, "region-norrbotten-sunderby-med") == []
    assert await inbox_of(engine, "region-norrbotten") == []
    async with UnitOfWork(engine) as uow:
        item_id = await uow.outbox.inbox_item_of(event_id, ["kommun-2580"])
        assert item_id is not None
        item = await uow.outbox.get(item_id)
    assert item is not None
    assert (item.event.sender_id, item.event.request_id) == (
        "region-norrbotten-sunderby-med",
        "req-outbox-1",
    )


def new_subscription(topic: Topic) -> Subscription:
    return Subscription(
        id=str(uuid.uuid4()),
        organization_id="kommun-2580",
        topic=topic,
        patient_id=None,
        endpoint="https://example.org/n",
        secret="s",
        content=PayloadContent.ID_ONLY,
        heartbeat_seconds=None,
        status=SubscriptionStatus.ACTIVE,
        events_count=0,
        last_error=None,
        heartbeat_at=NOW,
        created_at=NOW,
    )


async def test_pushes_are_numbered_per_subscription_whose_topic_covers_the_event(
    engine: AsyncEngine,
) -> None:
    subscriptions = {
        topic: new_subscription(topic) for topic in (Topic.DISCHARGE_READY, Topic.PLAN_CHANGES)
    }
    async with UnitOfWork(engine) as uow:
        for subscription in subscriptions.values():
            await uow.subscriptions.add(subscription, NOW)
        await uow.commit()
    for stream in ("Encounter/a", "Encounter/b"):
        async with UnitOfWork(engine) as uow:
            await queue(uow, stream, ["kommun-2580"])
            await uow.commit()
    async with UnitOfWork(engine) as uow:
        claimed = await uow.outbox.claim("w", now=NOW, lease_until=NOW, limit=10, per_endpoint=4)
        counted = {topic: (await uow.subscriptions.get(s.id)) for topic, s in subscriptions.items()}
    assert sorted((d.event.stream, d.event_number, s.topic) for d, s in claimed) == [
        ("Encounter/a", 1, Topic.DISCHARGE_READY),
        ("Encounter/b", 2, Topic.DISCHARGE_READY),
    ]
    assert counted[Topic.DISCHARGE_READY] is not None
    assert counted[Topic.DISCHARGE_READY].events_count == 2
    assert counted[Topic.PLAN_CHANGES] is not None
    assert counted[Topic.PLAN_CHANGES].events_count == 0


async def test_an_event_is_acknowledged_by_its_id_and_only_by_a_receiver(
    engine: AsyncEngine,
) -> None:
    async with UnitOfWork(engine) as uow:
        event_id = await queue(uow, "Encounter/ack", ["kommun-2580"])
        await uow.commit()
    stranger = Actor("test-stranger", "kommun-0880", "kommun-0880", frozenset())
    async with UnitOfWork(engine) as uow:
        assert await inbox_service.item_of_event(uow, stranger, event_id) is None
    async with UnitOfWork(engine) as uow:
        item_id = await inbox_service.item_of_event(uow, MUNICIPALITY, event_id)
        assert item_id is not None
        item = await inbox_service.acknowledge(
            uow, MUNICIPALITY, item_id, Outcome.FATAL_ERROR, "unknown patient", now=NOW
        )
        await uow.commit()
    assert (item.outcome, item.outcome_detail) == (Outcome.FATAL_ERROR, "unknown patient")
    # The sender is told, in the same stream.
    assert await inbox_of(engine, "region-norrbotten-sunderby-med") == ["Encounter/ack"]


@pytest.mark.committing
async def test_a_poll_never_passes_an_item_that_commits_later(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers are serial: ids are handed out in commit order there")
    slow = UnitOfWork(engine)
    await slow.__aenter__()
    try:
        # The slow transaction writes first (its rows get the lower ids) and commits last.
        await queue(slow, "Encounter/slow", ["kommun-2580"])
        async with UnitOfWork(engine) as fast:
            await queue(fast, "Encounter/fast", ["kommun-2580"])
            await fast.commit()
        # Showing the fast item now would move a poller's cursor past the slow one for good.
        assert await inbox_of(engine, "kommun-2580") == []
        await slow.commit()
    finally:
        await slow.__aexit__(None, None, None)
    assert await inbox_of(engine, "kommun-2580") == ["Encounter/slow", "Encounter/fast"]


@pytest.mark.committing
async def test_emitting_never_waits_on_a_subscription_row(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers are serial")
    subscription = new_subscription(Topic.MESSAGES)
    async with UnitOfWork(engine) as uow:
        await uow.subscriptions.add(subscription, NOW)
        await uow.commit()

    async def write() -> None:
        async with UnitOfWork(engine) as uow:
            await queue(uow, "Encounter/unblocked", ["kommun-2580"])
            await uow.commit()

    # A dispatcher numbering the subscription's pushes (or recording a result) holds its row
    # until it commits; the API's writes must not queue behind it.
    async with engine.connect() as holder:
        await holder.execute(
            text("UPDATE subscriptions SET updated_at = updated_at WHERE id = :id"),
            {"id": subscription.id},
        )
        await asyncio.wait_for(write(), 5)
        await holder.rollback()
    async with UnitOfWork(engine) as uow:
        counted = await uow.subscriptions.get(subscription.id)
    assert counted is not None and counted.events_count == 1


async def inbox_events(engine: AsyncEngine, organization: str) -> list[str]:
    async with UnitOfWork(engine) as uow:
        page = await uow.outbox.inbox(
            [organization], after=None, limit=100, event=None, person_id=None
        )
    return [item.event.id for item in page.items]


async def test_events_of_one_request_keep_the_order_they_were_queued_in(
    engine: AsyncEngine,
) -> None:
    """On PostgreSQL the events of a request whose last statement is announced ride it together
    (``UnitOfWork.defer``): each receiver's inbox and each subscription's pushes still follow
    the order they were queued in, whatever the number of receivers of each."""
    subscription = new_subscription(Topic.MESSAGES)
    async with UnitOfWork(engine) as uow:
        await uow.subscriptions.add(subscription, NOW)
        await uow.commit()
    async with UnitOfWork(engine) as uow:
        uow.announce_last_statement()
        queued = [
            await queue(uow, "Encounter/together", receivers)
            for receivers in (
                ["kommun-2580", "region-norrbotten-hc-lulea"],
                ["kommun-2580"],
                ["region-norrbotten-hc-lulea", "kommun-2580"],
            )
        ]
        await uow.commit()
    assert await inbox_events(engine, "kommun-2580") == queued
    assert await inbox_events(engine, "region-norrbotten-hc-lulea") == [queued[0], queued[2]]
    async with UnitOfWork(engine) as uow:
        claimed = await uow.outbox.claim("w", now=NOW, lease_until=NOW, limit=10, per_endpoint=4)
        counted = await uow.subscriptions.get(subscription.id)
    # Only the oldest push of the stream is due, numbered first.
    assert [(d.event.id, d.event_number) for d, _s in claimed] == [(queued[0], 1)]
    assert counted is not None and counted.events_count == 3


async def test_queueing_is_compiled_once_for_any_number_of_receivers(engine: AsyncEngine) -> None:
    """The outbox's writes bind their rows as arrays (PostgreSQL): one text for one receiver or
    three, found in SQLAlchemy's compiled cache after the first."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's outbox writes are built per event")
    compiled: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, _p: Any, context: Any, _m: Any) -> None:
        if "INSERT INTO deliveries" in statement:
            compiled.append(str(context.cache_hit))

    receivers = ["kommun-2580", "region-norrbotten-hc-lulea", "region-norrbotten"]
    sql_event.listen(engine.sync_engine, "after_cursor_execute", seen)
    try:
        for count in (1, 3, 2):
            async with UnitOfWork(engine) as uow:
                await queue(uow, f"Encounter/compiled-{count}", receivers[:count])
    finally:
        sql_event.remove(engine.sync_engine, "after_cursor_execute", seen)
    hit = str(engine.dialect.CACHE_HIT)
    assert len(compiled) == 3 and compiled[1:] == [hit, hit], compiled
