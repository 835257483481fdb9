"""The locked read of an episode (a notice's first statement) and a writer it waited for.

The read locks the episode and joins its events and access check in one statement. A statement
that waited for the lock still joins the events of the snapshot it started with (PostgreSQL
re-reads only the locked row), so the read must notice that and read the events again: else the
next notice would be numbered as if the one committed meanwhile did not exist.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.parties import Reach
from app.store.checked_reads import CheckedReads
from app.store.episodes import EpisodeRepository
from app.store.organizations import OrganizationRepository
from tests.conftest import ClientFor
from tests.e2e.test_fhir_messaging import admit_by_message

# Committing: two connections, one waiting for the other's row lock.
pytestmark = pytest.mark.committing

HOSPITAL = Reach(principal_id="region-kalmar")


def reads(conn: AsyncConnection) -> CheckedReads:
    return CheckedReads(conn, OrganizationRepository(conn))


async def test_a_locked_read_that_waited_sees_what_the_writer_committed(
    engine: AsyncEngine, client_for: ClientFor
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers are serial: a read never waits for a row lock")
    episode_id, _admitted = await admit_by_message(await client_for("region-kalmar"))
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        episode, within = await reads(first).episode(episode_id, HOSPITAL, for_update=True)
        assert episode is not None and within
        now = datetime.now(UTC)
        event = episode.change_expected_discharge(now, date.today() + timedelta(days=9), now=now)
        await EpisodeRepository(first).save(episode, [event])
        await second.begin()
        waiting = asyncio.create_task(reads(second).episode(episode_id, HOSPITAL, for_update=True))
        await asyncio.sleep(0.5)
        assert not waiting.done(), "the second read waits for the first one's lock"
        await first.commit()
        seen, still_within = await asyncio.wait_for(waiting, timeout=30)
        await second.rollback()
    assert seen is not None and still_within
    assert seen.version == episode.version
    assert [e.seq for e in seen.events] == [e.seq for e in episode.events]
    assert seen.events[-1].kind is event.kind
