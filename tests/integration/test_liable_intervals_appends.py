"""Generated episode histories appended notice by notice through the service, under the Swedish
and the Norwegian statutory rule sets, across DST changes and New Year.

After every append (or refused step) the stored ``liable_intervals`` of the episode are exactly
those the pure domain function derives from the episode's events as read back; at the end, for
every month of the stay, the invoice basis' SQL sum and the statistics' SQL sum both give the days
`compute_episode_liability` gives in Python.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.episodes import AdmissionType, Episode
from app.domain.errors import DomainError
from app.domain.identifiers import (
    FODSELSNUMMER,
    PERSONNUMMER,
    PersonIdentifier,
    make_fodselsnummer,
    make_personnummer,
)
from app.domain.liability import (
    DEFAULT_CONFIG_PATH,
    IndividualRuleSet,
    compute_episode_liability,
    liable_intervals,
    resolve_for,
)
from app.domain.persons import Person
from app.security.access import Actor
from app.services.commands import (
    DeclareDischargeReady,
    Discharge,
    Notice,
    RecordMunicipalityResponse,
    SendAdmissionNotice,
    WithdrawDischargeReady,
)
from app.services.episodes import RegisterAdmission, record_notice, register_admission
from app.services.liability_config import read_liability_config
from app.store import tables as t
from app.store.liability import Window, day_number, interval_rows
from app.store.statistics import Bounds, Scope, Slice, periods_table
from app.store.unit_of_work import UnitOfWork
from tests.conftest import PER_TEST_TABLES
from tests.database import connected
from tests.integration.test_liable_intervals import months_between

SHIPPED = read_liability_config(DEFAULT_CONFIG_PATH)
SIDES = {
    # jurisdiction: (time zone, ward, its region, paying municipality)
    "SE": (
        "Europe/Stockholm",
        "region-norrbotten-sunderby-med",
        "region-norrbotten",
        "kommun-2582",
    ),
    "NO": ("Europe/Oslo", "helse-stavanger-sus-med", "helse-stavanger", "kommune-1120"),
}
# Days near the spring and autumn DST changes and New Year, in years with rates on both sides.
ANCHORS = [
    (year, month, day) for year in (2019, 2022) for month, day in ((3, 25), (10, 24), (12, 27))
]
STEP = st.tuples(
    st.sampled_from(["ready", "withdraw", "answer", "discharge"]),
    st.integers(min_value=1, max_value=8 * 24 * 60),  # minutes after the previous notice
    st.integers(min_value=-1, max_value=6),  # an answer's day, from the notice's day
    st.sampled_from([0, 90, 20 * 60]),  # minutes from the decision to a ready notice
)
# A history starts with a discharge-ready notice (else nothing is ever liable), then anything.
STEPS = st.tuples(STEP.map(lambda step: ("ready", *step[1:])), st.lists(STEP, max_size=5)).map(
    lambda first_rest: [first_rest[0], *first_rest[1]]
)


def person_in(jurisdiction: str, municipality: str) -> Person:
    birth = date(1930, 1, 1) + timedelta(days=uuid.uuid4().int % 25_000)
    serial = uuid.uuid4().int % 500
    if jurisdiction == "SE":
        identifier = PersonIdentifier(PERSONNUMMER, make_personnummer(birth, serial))
    else:
        value = None
        while value is None:
            value = make_fodselsnummer(birth, serial)
            serial = (serial + 1) % 500
        identifier = PersonIdentifier(FODSELSNUMMER, value)
    return Person(
        id=str(uuid.uuid4()),
        identifier=identifier,
        given_name="Test",
        family_name="Testsson",
        residence_municipality_id=municipality,
    )


def notice_of(kind: str, at: datetime, days: int, decided: int, zone: ZoneInfo) -> Notice:
    if kind == "ready":
        return DeclareDischargeReady(at=at, decided_at=at - timedelta(minutes=decided))
    if kind == "withdraw":
        return WithdrawDischargeReady(at=at)
    if kind == "answer":
        return RecordMunicipalityResponse(
            at=at,
            can_receive_from=at.astimezone(zone).date() + timedelta(days),
        )
    return Discharge(at=at)


async def stored_rows(engine: AsyncEngine, episode_id: str) -> set[tuple[Any, ...]]:
    li = t.liable_intervals
    async with connected(engine) as conn:
        found = await conn.execute(select(li).where(li.c.episode_id == episode_id))
    return {tuple(sorted(row._mapping.items())) for row in found}


def derived_rows(episode: Episode) -> set[tuple[Any, ...]]:
    rows = interval_rows(episode, liable_intervals(episode, SHIPPED), SHIPPED.version)
    return {tuple(sorted(row.items())) for row in rows}


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    jurisdiction=st.sampled_from(["SE", "NO"]),
    anchor=st.sampled_from(ANCHORS),
    offset=st.integers(min_value=0, max_value=3 * 24 * 60),
    notified_after=st.sampled_from([timedelta(hours=1), timedelta(hours=30)]),
    steps=STEPS,
    later=st.sampled_from([timedelta(0), timedelta(hours=5), timedelta(days=3), timedelta(40)]),
)
async def test_stored_intervals_follow_every_append_and_sum_as_python_does(
    engine: AsyncEngine,
    jurisdiction: str,
    anchor: tuple[int, int, int],
    offset: int,
    notified_after: timedelta,
    steps: list[tuple[str, int, int, int]],
    later: timedelta,
) -> None:
    zone_name, ward, region, municipality = SIDES[jurisdiction]
    zone = ZoneInfo(zone_name)
    hospital = Actor(f"test-{jurisdiction}-ward", ward, region, frozenset())
    answering = Actor(f"test-{jurisdiction}-municipality", municipality, municipality, frozenset())
    admitted = (datetime(*anchor, tzinfo=zone) + timedelta(minutes=offset)).astimezone(UTC)
    now = datetime.now(UTC)
    person = person_in(jurisdiction, municipality)
    try:
        async with UnitOfWork(engine) as uow:
            await uow.persons.add_many([person])
            episode = await register_admission(
                uow,
                hospital,
                RegisterAdmission(person.id, ward, admitted, AdmissionType.ACUTE, municipality),
                now=now,
            )
            await record_notice(
                uow,
                hospital,
                episode.id,
                SendAdmissionNotice(at=admitted + notified_after),
                now=now,
                liability=SHIPPED,
            )
            await uow.commit()
        at = admitted + notified_after
        for kind, minutes, days, decided in steps:
            at += timedelta(minutes=minutes)
            sender = answering if kind == "answer" else hospital
            try:
                async with UnitOfWork(engine) as uow:
                    await record_notice(
                        uow,
                        sender,
                        episode.id,
                        notice_of(kind, at, days, decided, zone),
                        now=now,
                        liability=SHIPPED,
                    )
                    await uow.commit()
            except DomainError:  # a refused step leaves the episode and its intervals as they were
                pass
            async with UnitOfWork(engine) as uow:
                episode_now = await uow.episodes.get(episode.id)
                assert episode_now is not None
            assert await stored_rows(engine, episode.id) == derived_rows(episode_now), kind

        async with UnitOfWork(engine) as uow:
            read_back = await uow.episodes.get(episode.id)
        assert read_back is not None
        assert await stored_rows(engine, episode.id) == derived_rows(read_back)
        episode_now = read_back
        rule_set = resolve_for(SHIPPED, episode_now)
        assert isinstance(rule_set, IndividualRuleSet)
        as_of = episode_now.events[-1].at + later
        computed = compute_episode_liability(
            episode_now, rule_set, SHIPPED.rates_for(rule_set), as_of=as_of
        )
        spans = months_between(admitted.astimezone(zone).date(), as_of.astimezone(zone).date())
        bounds = []
        for key, (year, month) in enumerate(spans):
            first = date(year, month, 1)
            stop = date(year + month // 12, month % 12 + 1, 1)
            start_at, stop_at = (
                datetime(d.year, d.month, d.day, tzinfo=zone) for d in (first, stop)
            )
            bounds.append(Bounds(key, start_at, stop_at, day_number(first), day_number(stop)))
        async with UnitOfWork(engine) as uow:
            statistics = {
                k: int(days or 0)
                for k, _g, _table, days, _episodes in await uow.statistics.liable_days(
                    Slice(Scope(municipality_ids=(municipality,)), None, periods_table(bounds)),
                    as_of,
                    zone_name,
                )
            }
            for b, (year, month) in zip(bounds, spans, strict=True):
                window = Window(
                    b.starts_at.date(),
                    b.stops_at.date(),
                    b.starts_at,
                    b.stops_at,
                    as_of,
                    as_of.astimezone(zone).date(),
                )
                rows = await uow.liability.month(
                    window, municipality_id=municipality, region_id=None
                )
                python = computed.in_month(year, month)[0]
                event(f"{jurisdiction} month with liable days: {python > 0}")
                assert sum(r.liable_days for r in rows) == python, (year, month)
                assert statistics.get(b.key, 0) == python, (year, month)
    finally:
        # Each example starts from empty episode tables, so the sums are this episode's alone.
        async with connected(engine) as conn:
            for table in PER_TEST_TABLES:
                await conn.execute(text(f"DELETE FROM {table}"))
