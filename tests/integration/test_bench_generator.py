"""The benchmark's data generator makes valid, visible data through the real store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.episodes import EventKind
from app.domain.identifiers import normalize_person_identifier
from app.store.unit_of_work import UnitOfWork
from bench.generator import Maker, generate
from tests.conftest import ClientFor


async def test_generated_data_is_valid_and_readable(
    engine: AsyncEngine, client_for: ClientFor
) -> None:
    ticks: list[int] = []
    made = await generate(lambda: UnitOfWork(engine), 300, seed=7, progress=ticks.append)
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
    start = datetime.now(UTC) - timedelta(days=400)
    async with UnitOfWork(engine) as uow:
        loaded = await uow.episodes.liable_candidates("kommun-0821", start, datetime.now(UTC))
        sample = [await uow.episodes.get(e.id) for e in loaded[::97]]
    made = {e.id: e for e in episodes if any(v.kind is EventKind.DISCHARGE_READY for v in e.events)}
    assert len(made) > 2_000
    assert {e.id for e in loaded} == set(made)
    assert all(e.events == made[e.id].events for e in loaded)
    assert all(s is not None and s.events == made[s.id].events for s in sample)
