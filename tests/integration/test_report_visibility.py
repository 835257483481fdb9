"""The liability report decides in SQL which persons a reader knows the details of.

`app.store.liability_report.knows_details` is a sufficient condition for
`app.domain.parties.sees_details`; `app.security.access.listed_persons` reads the parties only of
the persons it leaves undecided. Over random party structures (registrations, records passing
details on, chains of records, protected identities) and readers at every grain, the persons it
gives are exactly those `visible_persons` gives from every party row, and the condition never
holds where `sees_details` would refuse.
"""

from __future__ import annotations

import random
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.identifiers import PERSONNUMMER, PersonIdentifier
from app.domain.parties import Pairs, RecordType, Role, sees_details
from app.domain.persons import Person
from app.security.access import Actor, listed_persons, visible_persons
from app.store import tables as t
from app.store.liability_report import knows_details
from app.store.unit_of_work import UnitOfWork

# Commits and rollbacks of its own, or units of work side by side: not inside the test's pinned
# transaction (tests/conftest.py).
pytestmark = pytest.mark.committing

ORGS = [
    "region-kalmar",
    "region-kalmar-lanssjukhuset-med",
    "region-kalmar-vastervik-med",
    "region-kalmar-hc-kalmar",
    "region-norrbotten",
    "region-norrbotten-sunderby-med",
    "kommun-0880",
    "kommun-0861",
]
READERS = [
    # (client's organization, its principal, the unit a principal-level client names)
    ("region-kalmar", "region-kalmar", None),
    ("region-kalmar", "region-kalmar", "region-kalmar-vastervik-med"),
    ("region-kalmar-lanssjukhuset-med", "region-kalmar", None),
    ("region-kalmar-hc-kalmar", "region-kalmar", None),
    ("region-norrbotten", "region-norrbotten", None),
    ("kommun-0880", "kommun-0880", None),
    ("kommun-0861", "kommun-0861", None),
]
ROLES = list(Role)


def _records(rng: random.Random, person_id: str) -> list[tuple[RecordType, str, str | None, Pairs]]:
    """A person's records: usually a registration, then a few records of random members and
    roles (so that details pass on directly, through chains, or not at all)."""
    records: list[tuple[RecordType, str, str | None, Pairs]] = []
    if rng.random() < 0.85:
        records.append(
            (RecordType.REGISTRATION, person_id, person_id, [(rng.choice(ORGS), Role.REGISTRANT)])
        )
    for _ in range(rng.randint(0, 4)):
        pairs = list({(rng.choice(ORGS), rng.choice(ROLES)) for _ in range(rng.randint(1, 4))})
        kind = rng.choice([t for t in RecordType if t is not RecordType.REGISTRATION])
        records.append((kind, str(uuid.UUID(int=rng.getrandbits(128))), person_id, pairs))
    return records


async def test_the_report_shows_each_person_as_every_party_row_would(engine: AsyncEngine) -> None:
    rng = random.Random(20)
    persons = [
        Person(
            id=str(uuid.UUID(int=rng.getrandbits(128))),
            identifier=PersonIdentifier(PERSONNUMMER, f"19{n:010d}"),
            given_name="Test",
            family_name=f"Person {n}",
            residence_municipality_id="kommun-0880",
            protected_identity=rng.random() < 0.15,
        )
        for n in range(120)
    ]
    async with UnitOfWork(engine) as uow:
        await uow.persons.add_many(persons)
        await uow.parties.add_many([r for p in persons for r in _records(rng, p.id)])
        await uow.commit()
    actors = [
        Actor("c", organization, principal, frozenset(), unit_id=unit)
        for organization, principal, unit in READERS
    ]
    p = t.persons.c
    known: list[set[str]] = []
    async with engine.connect() as conn:
        for actor in actors:
            found = await conn.execute(
                select(p.id).where(
                    p.id.in_([x.id for x in persons]), knows_details(p.id, actor.reach)
                )
            )
            known.append({row.id for row in found})
    async with UnitOfWork(engine) as uow:
        parties = await uow.parties.of_persons([p.id for p in persons])
        for actor, decided in zip(actors, known, strict=True):
            for person_id in decided:
                assert sees_details(parties.get(person_id, []), actor.reach, protected=False)
            assert await listed_persons(uow, actor, persons, decided) == await visible_persons(
                uow, actor, persons
            )
    # The structures exercised the SQL path, not only the fallback.
    assert sum(len(decided) for decided in known) > 50
