"""Synthetic but realistic Nordic data for the benchmark, loaded straight into the store.

Persons get valid personnummer (Kalmar län) and fødselsnummer (Jæren); each has an inpatient
episode built with the domain's own rules (admission notice, discharge-ready, discharge) and the
care relations the services would have given; about a third have an active coordinated plan with
goals, interventions, a coordinator and consent. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from app.domain.episodes import AdmissionType, CareType, Episode
from app.domain.identifiers import (
    FODSELSNUMMER,
    PERSONNUMMER,
    PersonIdentifier,
    make_fodselsnummer,
    make_personnummer,
)
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
from app.store.unit_of_work import UnitOfWork

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


async def generate(
    uow_factory: Callable[[], UnitOfWork],
    persons: int,
    *,
    seed: int = 2026,
    progress: Callable[[int], None] | None = None,
    sample: int = 5_000,
) -> Generated:
    """Load ``persons`` persons (90 % Kalmar län, 10 % Jæren) with episodes and plans."""
    maker = Maker(seed, datetime.now(UTC))
    result = Generated()
    done = 0
    while done < persons:
        size = min(BATCH, persons - done)
        people: list[Person] = []
        episodes: list[Episode] = []
        plans: list[Plan] = []
        relations: list[tuple[str, str, str]] = []
        for _ in range(size):
            norwegian = maker.random.random() < 0.1
            person = maker.person(norwegian)
            people.append(person)
            if norwegian:
                relations.append((person.id, person.residence_municipality_id, "registered"))
                continue
            episode = maker.episode(person)
            episodes.append(episode)
            relations += [
                (person.id, episode.hospital_unit_id, "hospital"),
                (person.id, "region-kalmar", "hospital"),
                (person.id, person.residence_municipality_id, "receiver"),
                (person.id, str(episode.primary_care_unit_id), "receiver"),
                (person.id, "region-kalmar", "receiver"),
            ]
            if episode.state.value == "planning" and len(result.planning_episode_ids) < 50_000:
                result.planning_episode_ids.append(episode.id)
            if len(result.person_ids) < sample:
                result.person_ids.append(person.id)
                result.episode_ids.append(episode.id)
                if episode.state.value == "discharge-ready":
                    result.ready_episode_ids.append(episode.id)
            if maker.random.random() < 0.33:
                plan = maker.plan(person)
                plans.append(plan)
                relations.append((person.id, person.residence_municipality_id, "participant"))
                relations.append((person.id, "region-kalmar", "participant"))
                if len(result.plan_ids) < sample:
                    result.plan_ids.append(plan.id)
        async with uow_factory() as uow:
            await uow.persons.add_many(people)
            if episodes:
                await uow.episodes.add_many(episodes)
            if plans:
                await uow.plans.add_many(
                    plans, organization_id="region-kalmar-hc-kalmar", client_id="bench-generator"
                )
            await uow.relations.add_rows(relations)
            await uow.commit()
        done += size
        result.persons += size
        result.episodes += len(episodes)
        result.plans += len(plans)
        if progress is not None:
            progress(size)
    return result
