"""Synthetic but realistic Nordic data for the benchmark, loaded straight into the store.

Persons get valid personnummer (Kalmar län) and fødselsnummer (Jæren); each has an inpatient
episode built with the domain's own rules (admission notice, discharge-ready, discharge) and the
record parties the services would have given (the ward registered the person); about a third
have an active coordinated plan with goals, interventions, a coordinator and consent.
Deterministic for a given seed.

The rows are the repositories' own (``person_row``, ``episode_row``, ``plan_row``, …, the same the
``add_many`` methods insert), written with PostgreSQL's COPY on the driver's connection in one
transaction, batch by batch. The batches are built in a process of their own while the caller's
process copies the ones before (a script that calls ``generate`` needs the usual
``if __name__ == "__main__"`` guard: the builder process is spawned). The plain secondary indexes
are dropped for the load and built again from their own definitions, and a superuser loads
without the per-row foreign-key triggers. PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.clock import utcnow
from app.domain.episodes import AdmissionType, CareType, Episode
from app.domain.identifiers import (
    FODSELSNUMMER,
    PERSONNUMMER,
    PersonIdentifier,
    make_fodselsnummer,
    make_personnummer,
)
from app.domain.liability import DEFAULT_CONFIG_PATH, LiabilityConfig, liable_intervals
from app.domain.parties import Pairs, RecordType, Role, episode_parties, plan_parties
from app.domain.persons import Person
from app.domain.plans import (
    Consent,
    ConsentGiver,
    ConsentMethod,
    Coordinator,
    Goal,
    Initiator,
    InitiatorKind,
    Intervention,
    Plan,
    PlanContent,
    PlanStatus,
)
from app.services.liability_config import read_liability_config
from app.store import tables as t
from app.store.database import create_engine
from app.store.episodes import episode_row, event_row
from app.store.liability import interval_rows
from app.store.parties import party_row
from app.store.persons import person_row
from app.store.plans import follow_up_rows, plan_document, plan_row, plan_version_row

KALMAR_MUNICIPALITIES = [
    "kommun-0821", "kommun-0834", "kommun-0840", "kommun-0860", "kommun-0861", "kommun-0862",
    "kommun-0880", "kommun-0881", "kommun-0882", "kommun-0883", "kommun-0884", "kommun-0885",
]  # fmt: skip
JAEREN_MUNICIPALITIES = ["kommune-1119", "kommune-1120", "kommune-1121", "kommune-1122"]
KALMAR_WARDS = [
    ("region-kalmar-lanssjukhuset-med", CareType.SOMATIC),
    ("region-kalmar-vastervik-med", CareType.SOMATIC),
    ("region-kalmar-kalmar-psyk", CareType.PSYCHIATRIC),
]
KALMAR_PRIMARY = ["region-kalmar-hc-kalmar", "region-kalmar-hc-vastervik"]
GIVEN = ["Anna", "Erik", "Maria", "Lars", "Karin", "Nils", "Eva", "Olof", "Ingrid", "Sven",
         "Kari", "Ola", "Astrid", "Gunnar", "Britt", "Viola", "Peter", "Ylva", "Hans"]  # fmt: skip
FAMILY = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
          "Persson", "Hansen", "Johansen", "Olsen", "Berg", "Lind", "Holm", "Ek"]  # fmt: skip
BATCH = 2_000
AHEAD = 2  # batches built ahead of the one being copied
# Who the loaded plans' versions are recorded as saved by (as PlanRepository.add_many records).
PLAN_ORGANIZATION = "region-kalmar-hc-kalmar"
PLAN_CLIENT = "bench-generator"


@dataclass
class Generated:
    """What was loaded, and samples of ids the workloads use (all visible to Region Kalmar)."""

    persons: int = 0
    episodes: int = 0
    plans: int = 0
    person_ids: list[str] = field(default_factory=list)
    plan_ids: list[str] = field(default_factory=list)
    episode_ids: list[str] = field(default_factory=list)
    ready_episode_ids: list[str] = field(default_factory=list)
    planning_episode_ids: list[str] = field(default_factory=list)


@dataclass
class Batch:
    """The domain objects of one batch of persons, and the parties of their records."""

    people: list[Person] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    parties: list[tuple[RecordType, str, str | None, Pairs]] = field(default_factory=list)


def principal_of(organization_id: str) -> str:
    """The principal of a demo organization the generator names: ``region-kalmar-hc-kalmar`` →
    ``region-kalmar``, ``kommun-0821-hemtjanst`` → ``kommun-0821``."""
    return "-".join(organization_id.split("-")[:2])


class Maker:
    """Builds one person's data with a seeded random source."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.random = random.Random(seed)
        self.now = now
        self.used: set[str] = set()

    def identifier(self, norwegian: bool) -> tuple[PersonIdentifier, date]:
        while True:
            birth = date(1925, 1, 1) + timedelta(days=self.random.randrange(0, 36_000))
            if norwegian:
                value = make_fodselsnummer(birth, self.random.randrange(0, 500))
                system = FODSELSNUMMER
            else:
                value = make_personnummer(birth, self.random.randrange(0, 1000))
                system = PERSONNUMMER
            if value is not None and value not in self.used:
                self.used.add(value)
                return PersonIdentifier(system, value), birth

    def person(self, norwegian: bool) -> Person:
        identifier, birth = self.identifier(norwegian)
        municipalities = JAEREN_MUNICIPALITIES if norwegian else KALMAR_MUNICIPALITIES
        return Person(
            id=str(uuid.UUID(int=self.random.getrandbits(128), version=4)),
            identifier=identifier,
            given_name=self.random.choice(GIVEN),
            family_name=self.random.choice(FAMILY),
            residence_municipality_id=self.random.choice(municipalities),
            birth_date=birth,
            protected_identity=self.random.random() < 0.01,
        )

    def episode(self, person: Person) -> Episode:
        ward, care_type = self.random.choice(KALMAR_WARDS)
        admitted = self.now - timedelta(
            days=self.random.randrange(2, 120), hours=self.random.randrange(24)
        )
        episode = Episode(
            id=str(uuid.UUID(int=self.random.getrandbits(128), version=4)),
            person_id=person.id,
            hospital_unit_id=ward,
            region_id="region-kalmar",
            municipality_id=person.residence_municipality_id,
            primary_care_unit_id=self.random.choice(KALMAR_PRIMARY),
            jurisdiction="SE",
            admitted_at=admitted,
            admission_type=AdmissionType.ACUTE
            if self.random.random() < 0.8
            else AdmissionType.PLANNED,
            care_type=care_type,
        )
        episode.send_admission_notice(admitted + timedelta(hours=3), now=self.now)
        fate = self.random.random()
        if fate < 0.25:
            return episode
        ready = admitted + timedelta(days=self.random.randrange(1, 10))
        if ready >= self.now:
            return episode
        episode.declare_discharge_ready(
            ready, now=self.now, coordinated_planning=self.random.random() < 0.5
        )
        if fate < 0.4:
            return episode
        out = ready + timedelta(
            days=self.random.randrange(0, 5), hours=self.random.randrange(1, 20)
        )
        if out < self.now:
            episode.discharge(out, now=self.now)
        return episode

    def plan(self, person: Person) -> Plan:
        municipality = person.residence_municipality_id
        given = self.now - timedelta(days=self.random.randrange(1, 60))
        plan = Plan(
            id=str(uuid.UUID(int=self.random.getrandbits(128), version=4)),
            person_id=person.id,
            jurisdiction="SE",
            initiator=Initiator(InitiatorKind.UNIT, "region-kalmar-hc-kalmar"),
            initiating_principal_id="region-kalmar",
            content=PlanContent(
                title=f"SIP, {person.given_name}",
                goals=(
                    Goal("hemma", "Bo kvar hemma med stöd"),
                    Goal("trygghet", "Känna sig trygg nattetid"),
                ),
                resources=("Anhöriga i närheten",),
                needs=("Stöd med läkemedel", "Hjälp med personlig omvårdnad"),
                interventions=(
                    Intervention(
                        "hemtjanst",
                        "Hemtjänst morgon och kväll",
                        f"{municipality}-hemtjanst",
                        municipality,
                        "dagligen",
                    ),
                    Intervention(
                        "hemsjukvard",
                        "Läkemedelsgivning",
                        f"{municipality}-hemsjukvard",
                        municipality,
                        "dagligen",
                    ),
                    Intervention(
                        "vc",
                        "Uppföljning hos distriktsläkare",
                        "region-kalmar-hc-kalmar",
                        "region-kalmar",
                        "var tredje månad",
                    ),
                ),
                responsible_principal_id=municipality,
                coordinator=Coordinator("Samordnare", f"{municipality}-hemsjukvard", municipality),
                start_date=given.date(),
                planned_end_date=given.date() + timedelta(days=365),
                follow_up_dates=(given.date() + timedelta(days=90),),
            ),
            created_at=given,
            updated_at=given,
        )
        plan.add_consent(
            Consent(
                str(uuid.UUID(int=self.random.getrandbits(128), version=4)),
                ConsentGiver.PERSON,
                given,
                ConsentMethod.ORAL,
                ("region-kalmar", municipality),
                "region-kalmar-hc-kalmar",
            ),
            now=given,
        )
        plan.activate(now=given)
        plan.version = 1  # loaded as it stands today; its history is not part of the benchmark
        assert plan.status is PlanStatus.ACTIVE
        return plan

    def batch(self, size: int, result: Generated, sample: int) -> Batch:
        """The next ``size`` persons with their episodes, plans and parties, counted into
        ``result`` with up to ``sample`` ids of each kind."""
        batch = Batch()
        parties = batch.parties
        for _ in range(size):
            norwegian = self.random.random() < 0.1
            person = self.person(norwegian)
            batch.people.append(person)
            if norwegian:
                registrant = person.residence_municipality_id
                parties.append(
                    (RecordType.REGISTRATION, person.id, person.id, [(registrant, Role.REGISTRANT)])
                )
                continue
            episode = self.episode(person)
            batch.episodes.append(episode)
            parties += [
                (
                    RecordType.REGISTRATION,
                    person.id,
                    person.id,
                    [(episode.hospital_unit_id, Role.REGISTRANT)],
                ),
                (RecordType.EPISODE, episode.id, person.id, episode_parties(episode)),
            ]
            if episode.state.value == "planning" and len(result.planning_episode_ids) < 50_000:
                result.planning_episode_ids.append(episode.id)
            if len(result.person_ids) < sample:
                result.person_ids.append(person.id)
                result.episode_ids.append(episode.id)
                if episode.state.value == "discharge-ready":
                    result.ready_episode_ids.append(episode.id)
            if self.random.random() < 0.33:
                plan = self.plan(person)
                batch.plans.append(plan)
                parties.append((RecordType.PLAN, plan.id, person.id, plan_parties(plan)))
                if len(result.plan_ids) < sample:
                    result.plan_ids.append(plan.id)
        result.persons += size
        result.episodes += len(batch.episodes)
        result.plans += len(batch.plans)
        return batch


# The tables the generator writes, parents first.
LOADED = (
    t.persons,
    t.episodes,
    t.episode_events,
    t.liable_intervals,
    t.plans,
    t.plan_versions,
    t.plan_follow_ups,
    t.record_parties,
)
# The plain indexes of those tables: neither unique nor backing a constraint (primary keys,
# unique constraints and what foreign keys refer to stay), with their exact definitions.
PLAIN_INDEXES = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
WHERE i.indrelid = ANY($1::text[]::regclass[])
  AND NOT i.indisunique
  AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""
# A table's name, the columns copied (in the row builders' order) and the records.
Copy = tuple[str, list[str], list[tuple[Any, ...]]]


def batch_rows(
    batch: Batch, now: datetime, config: LiabilityConfig
) -> list[tuple[Table, list[dict[str, Any]]]]:
    """The rows the repositories' ``add_many`` would insert for the batch, table by table, in
    the order they insert them (that of ``LOADED``), with the liable intervals the service
    derives from each episode's notices under ``config``; ``now`` is their creation time."""
    documents = [(plan, plan_document(plan)) for plan in batch.plans]
    return [
        (t.persons, [person_row(p, now) for p in batch.people]),
        (t.episodes, [episode_row(e, now) for e in batch.episodes]),
        (
            t.episode_events,
            [event_row(e.id, event, now) for e in batch.episodes for event in e.events],
        ),
        (
            t.liable_intervals,
            [
                row
                for e in batch.episodes
                for row in interval_rows(e, liable_intervals(e, config), config.version)
            ],
        ),
        (t.plans, [plan_row(p, d) for p, d in documents]),
        (
            t.plan_versions,
            [plan_version_row(p, d, PLAN_ORGANIZATION, PLAN_CLIENT) for p, d in documents],
        ),
        (t.plan_follow_ups, [row for p, _d in documents for row in follow_up_rows(p)]),
        (
            t.record_parties,
            [
                party_row(kind, record, person, org, principal_of(org), role, now)
                for kind, record, person, pairs in batch.parties
                for org, role in dict.fromkeys(pairs)
            ],
        ),
    ]


def copy_records(table: Table, rows: list[dict[str, Any]], dialect: Dialect) -> Copy:
    """Rows as COPY records, each value converted as SQLAlchemy binds it for ``dialect`` (the
    JSON serializer, UTC timestamps, …), so that COPY stores what an INSERT would."""
    columns = list(rows[0]) if rows else []
    processors = [
        (i, process)
        for i, name in enumerate(columns)
        if (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
    ]
    records: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row.values())
        for i, process in processors:
            values[i] = process(values[i])
        records.append(tuple(values))
    return table.name, columns, records


async def copy_batch(driver: Any, copies: list[Copy]) -> None:
    """COPY the records into their tables on the driver's (asyncpg) connection."""
    for table, columns, records in copies:
        if records:
            await driver.copy_records_to_table(table, records=records, columns=columns)


@dataclass
class Builder:
    """The state of the builder process: one maker builds every batch, in order."""

    maker: Maker
    made: Generated
    sample: int
    stamp: datetime | None
    dialect: Dialect
    config: LiabilityConfig


_builder: Builder | None = None


def start_builder(url: str, seed: int, now: datetime, stamp: datetime | None, sample: int) -> None:
    """Set up the builder process; values are converted as the store's engine for ``url``
    binds them (no connection is made)."""
    global _builder
    _builder = Builder(
        Maker(seed, now),
        Generated(),
        sample,
        stamp,
        create_engine(url).dialect,
        read_liability_config(DEFAULT_CONFIG_PATH),
    )


def build(size: int) -> list[Copy]:
    """In the builder process: the next ``size`` persons' records, table by table."""
    assert _builder is not None
    batch = _builder.maker.batch(size, _builder.made, _builder.sample)
    rows = batch_rows(batch, _builder.stamp or utcnow(), _builder.config)
    return [copy_records(table, table_rows, _builder.dialect) for table, table_rows in rows]


def built() -> Generated:
    """In the builder process: what the batches built so far hold."""
    assert _builder is not None
    return _builder.made


async def generate(
    engine: AsyncEngine,
    persons: int,
    *,
    seed: int = 2026,
    progress: Callable[[int], None] | None = None,
    sample: int = 5_000,
    now: datetime | None = None,
) -> Generated:
    """Load ``persons`` persons (90 % Kalmar län, 10 % Jæren) with episodes and plans.

    ``now`` fixes the load's clock (the domain's rules and the rows' creation times); by default
    the domain runs at the current time and each batch's rows are created when it is built.
    """
    ready: asyncio.Queue[tuple[int, list[Copy]] | None] = asyncio.Queue(maxsize=AHEAD)

    async def produce(builder: ProcessPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        for start in range(0, persons, BATCH):
            size = min(BATCH, persons - start)
            await ready.put((size, await loop.run_in_executor(builder, build, size)))
        await ready.put(None)

    async def consume(driver: Any) -> None:
        while (item := await ready.get()) is not None:
            size, copies = item
            await copy_batch(driver, copies)
            if progress is not None:
                progress(size)

    # Batches are built in a process of their own (Python runs one thread at a time) while
    # this one copies the batches before them; up to AHEAD of them wait ready.
    with ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_builder,
        initargs=(
            engine.url.render_as_string(hide_password=False),
            seed,
            now or datetime.now(UTC),
            now,
            sample,
        ),
    ) as builder:
        async with engine.connect() as conn:
            # SQLAlchemy's connection brings the driver's codecs (its JSON one among them);
            # the load is one transaction of asyncpg's own: a failed load leaves nothing behind.
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            async with driver.transaction():
                if await driver.fetchval("SELECT current_setting('is_superuser')") == "on":
                    # No foreign-key trigger per row: the rows are those the repositories
                    # insert with every check on (tests/integration/test_bench_generator.py).
                    await driver.execute("SET LOCAL session_replication_role = replica")
                # Plain indexes are built once after the load instead of row by row: with
                # random ids every row touches another page of every index, and near
                # 1 000 000 persons that was about 60 % of the time COPY took.
                indexes = await driver.fetch(PLAIN_INDEXES, [table.name for table in LOADED])
                for index in indexes:
                    await driver.execute(f"DROP INDEX {index['name']}")
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(produce(builder))
                    tasks.create_task(consume(driver))
                for index in indexes:
                    await driver.execute(index["definition"])
        return await asyncio.get_running_loop().run_in_executor(builder, built)
