"""The benchmark's data generator makes valid, visible data through the real store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.identifiers import normalize_person_identifier
from app.domain.liability import DEFAULT_CONFIG_PATH
from app.services.liability_config import read_liability_config
from app.services.liability_rules import store_intervals
from app.store import episodes as episode_store
from app.store import parties
from app.store import persons as person_store
from app.store.unit_of_work import UnitOfWork
from bench.generator import BATCH, PLAN_CLIENT, PLAN_ORGANIZATION, Generated, Maker, generate
from tests.conftest import ClientFor

# Committing: the generator loads with the driver's COPY on connections of its own.
pytestmark = pytest.mark.committing

# Every table the generator writes, children first, each with its key.
LOADED = {
    "record_parties": "record_type, record_id, principal_id, organization_id, role",
    "plan_versions": "plan_id, version",
    "plans": "id",
    "liable_intervals": "episode_id, clock",
    "episode_events": "episode_id, seq",
    "episodes": "id",
    "persons": "id",
}
NOW = datetime(2026, 11, 23, 12, 34, 56, 789012, tzinfo=UTC)
CONFIG = read_liability_config(DEFAULT_CONFIG_PATH)


def postgres_only(engine: AsyncEngine) -> None:
    """The generator writes with PostgreSQL's COPY: the benchmark runs on PostgreSQL only."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the benchmark's generator loads PostgreSQL only (COPY)")


async def dump(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every row of the loaded tables as PostgreSQL prints it (JSON as stored), in key order,
    and the definitions of their indexes and constraints."""
    async with engine.connect() as conn:
        found = {
            table: list(
                (await conn.execute(text(f"SELECT t::text FROM {table} t ORDER BY {key}")))
                .scalars()
                .all()
            )
            for table, key in LOADED.items()
        }
        found["indexes"] = list(
            (
                await conn.execute(
                    text(
                        "SELECT tablename || ': ' || indexdef FROM pg_indexes "
                        "WHERE schemaname = 'public' ORDER BY indexname"
                    )
                )
            ).scalars()
        )
        found["constraints"] = list(
            (
                await conn.execute(
                    text(
                        "SELECT conrelid::regclass || ': ' || conname || ' '"
                        " || pg_get_constraintdef(oid) || ' ' || convalidated FROM pg_constraint"
                        " WHERE connamespace = 'public'::regnamespace ORDER BY conname"
                    )
                )
            ).scalars()
        )
    return found


async def test_generated_data_is_valid_and_readable(
    engine: AsyncEngine, client_for: ClientFor
) -> None:
    postgres_only(engine)
    ticks: list[int] = []
    made = await generate(engine, 300, seed=7, progress=ticks.append)
    assert made.persons == 300 == sum(ticks)
    assert 240 <= made.episodes <= 300 and 50 <= made.plans <= 150
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT identifier_system, identifier_value FROM persons"))
        ).all()
    today = datetime.now(UTC).date()
    for system, value in rows:
        normalize_person_identifier(system, value, today=today, reserve_systems=frozenset())
    assert {system.rsplit("/", 1)[-1] for system, _ in rows} >= {"personnummer"}
    kalmar = await client_for("region-kalmar")
    plan = await kalmar.get(f"/api/v1/plans/{made.plan_ids[0]}")
    assert plan.status_code == 200 and plan.json()["status"] == "active"
    fhir = await kalmar.get(f"/fhir/CarePlan/{made.plan_ids[0]}")
    assert fhir.status_code == 200
    episode = await kalmar.get(f"/api/v1/episodes/{made.episode_ids[0]}")
    assert episode.status_code == 200
    stranger: httpx.AsyncClient = await client_for("kommun-2580")
    assert (await stranger.get(f"/api/v1/plans/{made.plan_ids[0]}")).status_code == 404


async def test_a_long_candidate_list_loads_every_episode_with_its_events(
    engine: AsyncEngine,
) -> None:
    # More episodes than one statement's id list takes: their events come by the query itself.
    maker = Maker(11, datetime.now(UTC))
    persons = [
        replace(maker.person(norwegian=False), residence_municipality_id="kommun-0821")
        for _ in range(2_900)
    ]
    episodes = [maker.episode(person) for person in persons]
    async with UnitOfWork(engine) as uow:
        await uow.persons.add_many(persons)
        await uow.episodes.add_many(episodes)
        await uow.commit()
    async with UnitOfWork(engine) as uow:
        loaded = (await uow.episodes.page(limit=5_000, municipality_id="kommun-0821")).items
        sample = [await uow.episodes.get(e.id) for e in loaded[::97]]
    made = {e.id: e for e in episodes}
    assert len(made) > 2_000
    assert {e.id for e in loaded} == set(made)
    assert all(e.events == made[e.id].events for e in loaded)
    assert all(s is not None and s.events == made[s.id].events for s in sample)


async def test_copied_rows_are_those_the_repositories_insert(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COPY writes exactly the rows (JSON text included) that the repositories' ``add_many``
    insert for the same persons, over several batches, one of them partial, and leaves the
    indexes it drops for the load as they were."""
    postgres_only(engine)
    persons, seed = 2 * BATCH + 321, 11
    monkeypatch.setattr(person_store, "utcnow", lambda: NOW)
    monkeypatch.setattr(episode_store, "utcnow", lambda: NOW)
    monkeypatch.setattr(parties, "utcnow", lambda: NOW)
    maker, inserted = Maker(seed, NOW), Generated()
    for start in range(0, persons, BATCH):
        batch = maker.batch(min(BATCH, persons - start), inserted, 5_000)
        async with UnitOfWork(engine) as uow:
            await uow.persons.add_many(batch.people)
            await uow.episodes.add_many(batch.episodes)
            await uow.plans.add_many(
                batch.plans, organization_id=PLAN_ORGANIZATION, client_id=PLAN_CLIENT
            )
            await uow.parties.add_many(batch.parties)
            for episode in batch.episodes:
                await store_intervals(uow, episode, CONFIG)
            await uow.commit()
    expected = await dump(engine)
    async with engine.begin() as conn:
        # The follow-ups refer to the plans, which the loop empties before them.
        await conn.execute(text("DELETE FROM plan_follow_ups"))
        for table in LOADED:
            await conn.execute(text(f"DELETE FROM {table}"))

    copied = await generate(engine, persons, seed=seed, now=NOW)

    assert copied == inserted
    assert copied.plans > 0 and len(expected["episode_events"]) > copied.episodes
    assert any(" ix_record_parties_" in index for index in expected["indexes"])
    assert await dump(engine) == expected
