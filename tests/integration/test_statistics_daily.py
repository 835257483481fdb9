"""The statistics per local day (``statistics_daily``) against the events it is derived from.

Generated histories of a person's episodes around DST changes and New Year, through the services
and repositories that write them: admission notices sent within a day or later, discharge-ready
notices with and without coordinated planning, withdrawals, discharges, summonses sent and
cancelled, and readmissions. After every step the table each write kept equals a recompute
from the events, and the episodes' indicators read from it (`StatisticsRepository`) equal those
the live queries compute from the event tables (`LiveStatisticsRepository`), per month and year,
for the region, the municipality and the ward, broken down by unit, municipality and area, and
asked at several moments (the summons deadline depends on the day asked).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.episodes import AdmissionType, Episode
from app.domain.errors import DomainError
from app.domain.liability import DEFAULT_CONFIG_PATH
from app.domain.meetings import Meeting
from app.domain.statistics import Dimension
from app.security.access import Actor
from app.services.commands import (
    DeclareDischargeReady,
    Discharge,
    SendAdmissionNotice,
    WithdrawDischargeReady,
)
from app.services.episodes import RegisterAdmission, record_notice, register_admission
from app.services.liability_config import read_liability_config
from app.store import tables as t
from app.store.liability import day_number
from app.store.statistics import (
    Bounds,
    LiveStatisticsRepository,
    Scope,
    Slice,
    StatisticsRepository,
    periods_table,
)
from app.store.statistics_daily import KEY, WHOLE, compact, contributions, recompute
from app.store.unit_of_work import UnitOfWork
from tests.conftest import PER_TEST_TABLES
from tests.database import connected
from tests.integration.test_liable_intervals_appends import SIDES, person_in

SHIPPED = read_liability_config(DEFAULT_CONFIG_PATH)
# Days near the spring and autumn DST changes and New Year.
ANCHORS = [(2022, 3, 25), (2022, 10, 28), (2022, 12, 29), (2023, 3, 24)]
# Weighted so that most histories reach withdrawals, summonses and cancellations before the
# discharge (after which only a readmission goes on).
KINDS = [
    *["ready"] * 2,
    *["ready-planning"] * 4,
    *["withdraw"] * 3,
    *["summon"] * 3,
    "cancel",
    "discharge",
    "readmit",
]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(min_value=1, max_value=5 * 24 * 60),  # minutes after the previous step
        st.booleans(),  # a readmission: acute (else planned); its notice within 24 h
    ),
    min_size=1,
    max_size=10,
)


def months(first: date, last: date) -> list[tuple[date, date]]:
    """The local months from ``first``'s to ``last``'s, and the years they are in."""
    spans = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        stop = date(year + month // 12, month % 12 + 1, 1)
        spans.append((date(year, month, 1), stop))
        year, month = stop.year, stop.month
    years = sorted({d.year for d, _ in spans})
    return spans + [(date(y, 1, 1), date(y + 1, 1, 1)) for y in years]


def bounds_of(spans: list[tuple[date, date]], zone: ZoneInfo) -> list[Bounds]:
    return [
        Bounds(
            key,
            datetime(a.year, a.month, a.day, tzinfo=zone),
            datetime(b.year, b.month, b.day, tzinfo=zone),
            day_number(a),
            day_number(b),
        )
        for key, (a, b) in enumerate(spans)
    ]


def rows_of(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows as plain numbers (the engines return sums as int, Decimal or None)."""
    return sorted((k, g, *(None if v is None else int(v) for v in rest)) for k, g, *rest in found)


async def kept_and_recomputed(conn: AsyncConnection) -> tuple[set[Any], set[Any]]:
    d = t.statistics_daily.c
    # A key's count is the sum over its shards (one per writing connection on PostgreSQL).
    kept = await conn.execute(
        select(*(d[k] for k in KEY), func.sum(d.n))
        .group_by(*(d[k] for k in KEY))
        .having(func.sum(d.n) != 0)
    )
    facts = contributions(None).subquery("facts")
    fresh = await conn.execute(
        select(*(facts.c[k] for k in KEY), func.sum(facts.c.n))
        .group_by(*(facts.c[k] for k in KEY))
        .having(func.sum(facts.c.n) != 0)
    )
    return {tuple(r) for r in kept}, {tuple(r) for r in fresh}


async def compare_figures(
    conn: AsyncConnection, slices: list[Slice], moments: list[datetime], zone: str
) -> None:
    daily, live = StatisticsRepository(conn), LiveStatisticsRepository(conn)
    for sl in slices:
        assert rows_of(await daily.episode_events(sl)) == rows_of(await live.episode_events(sl))
        assert rows_of(await daily.days_to_discharge(sl, zone)) == rows_of(
            await live.days_to_discharge(sl, zone)
        )
        assert rows_of(await daily.readmissions(sl)) == rows_of(await live.readmissions(sl))
        for now in moments:
            assert rows_of(await daily.summonses(sl, now, zone)) == rows_of(
                await live.summonses(sl, now, zone)
            ), (sl.scope, sl.by, now)


class History:
    """One person's episodes as the generated steps write them."""

    def __init__(self, engine: AsyncEngine, jurisdiction: str) -> None:
        self.engine = engine
        zone_name, self.ward, self.region, self.municipality = SIDES[jurisdiction]
        self.zone = ZoneInfo(zone_name)
        self.hospital = Actor(f"test-{jurisdiction}-ward", self.ward, self.region, frozenset())
        self.person = person_in(jurisdiction, self.municipality)
        self.now = datetime.now(UTC)
        self.episode: Episode | None = None
        self.meetings: list[str] = []

    async def admit(self, at: datetime, acute: bool, notified_after: timedelta) -> None:
        async with UnitOfWork(self.engine) as uow:
            kind = AdmissionType.ACUTE if acute else AdmissionType.PLANNED
            self.episode = await register_admission(
                uow,
                self.hospital,
                RegisterAdmission(self.person.id, self.ward, at, kind, self.municipality),
                now=self.now,
            )
            await record_notice(
                uow,
                self.hospital,
                self.episode.id,
                SendAdmissionNotice(at=at + notified_after),
                now=self.now,
                liability=SHIPPED,
            )
            await uow.commit()

    async def step(self, kind: str, at: datetime, flag: bool) -> None:
        assert self.episode is not None
        notices = {
            "ready": DeclareDischargeReady(at=at),
            "ready-planning": DeclareDischargeReady(at=at, coordinated_planning=True),
            "withdraw": WithdrawDischargeReady(at=at),
            "discharge": Discharge(at=at),
        }
        try:
            if kind in notices:
                async with UnitOfWork(self.engine) as uow:
                    await record_notice(
                        uow,
                        self.hospital,
                        self.episode.id,
                        notices[kind],
                        now=self.now,
                        liability=SHIPPED,
                    )
                    await uow.commit()
            elif kind == "summon":
                await self.summon(at)
            elif kind == "cancel" and self.meetings:
                await self.cancel(self.meetings.pop(0 if flag else -1))
            elif kind == "readmit":
                async with UnitOfWork(self.engine) as uow:
                    current = await uow.episodes.get(self.episode.id)
                assert current is not None
                if current.discharged_at is not None:
                    await self.admit(at, flag, timedelta(hours=2 if flag else 30))
        except DomainError:  # a refused step leaves everything as it was
            pass

    async def summon(self, at: datetime) -> None:
        assert self.episode is not None
        meeting = Meeting(
            id=str(uuid.uuid4()),
            person_id=self.person.id,
            plan_id=None,
            episode_id=self.episode.id,
            organizer_id=self.ward,
            starts_at=at + timedelta(days=2),
            reply_by=(at + timedelta(days=1)).date(),
            sent_at=at,
            participants=[],
            location="Ward 3",
        )
        async with UnitOfWork(self.engine) as uow:
            await uow.meetings.add(meeting)
            await uow.commit()
        self.meetings.append(meeting.id)

    async def cancel(self, meeting_id: str) -> None:
        async with UnitOfWork(self.engine) as uow:
            meeting = await uow.meetings.get(meeting_id)
            assert meeting is not None
            expected = meeting.version
            meeting.cancel("called off")
            await uow.meetings.save(meeting, expected_version=expected)
            await uow.commit()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    jurisdiction=st.sampled_from(["SE", "SE", "SE", "NO"]),
    anchor=st.sampled_from(ANCHORS),
    offset=st.integers(min_value=0, max_value=3 * 24 * 60),
    notified_after=st.sampled_from([timedelta(hours=1), timedelta(hours=30)]),
    steps=STEPS,
)
async def test_the_kept_aggregate_is_the_recomputed_one_and_gives_the_live_figures(
    engine: AsyncEngine,
    jurisdiction: str,
    anchor: tuple[int, int, int],
    offset: int,
    notified_after: timedelta,
    steps: list[tuple[str, int, bool]],
) -> None:
    history = History(engine, jurisdiction)
    zone = history.zone
    admitted = (datetime(*anchor, tzinfo=zone) + timedelta(minutes=offset)).astimezone(UTC)
    try:
        async with UnitOfWork(engine) as uow:
            await uow.persons.add_many([history.person])
            await uow.commit()
        await history.admit(admitted, True, notified_after)
        at = admitted + notified_after
        for kind, minutes, flag in steps:
            at += timedelta(minutes=minutes)
            await history.step(kind, at, flag)
            async with connected(engine) as conn:
                kept, fresh = await kept_and_recomputed(conn)
            assert kept == fresh, kind

        async with connected(engine) as conn:
            kept, fresh = await kept_and_recomputed(conn)
            assert kept == fresh
            event(f"facts: {sorted({row[0] for row in kept})}")
            for outcome in sorted({row[-2] for row in kept if row[0] == "summons"}):
                event(f"summons outcome {outcome}")
            spans = months(admitted.astimezone(zone).date(), at.astimezone(zone).date())
            periods = periods_table(bounds_of(spans, zone))
            region, municipality, ward = history.region, history.municipality, history.ward
            slices = [
                Slice(Scope(region_id=region), None, periods),
                Slice(Scope(region_id=region), Dimension.UNIT, periods),
                Slice(Scope(region_id=region), Dimension.MUNICIPALITY, periods),
                Slice(Scope(region_id=region), Dimension.AREA, periods),
                Slice(Scope(municipality_ids=(municipality,)), None, periods),
                Slice(Scope(unit_ids=(ward,)), Dimension.UNIT, periods),
            ]
            moments = [at, at + timedelta(days=3), at + timedelta(days=4, hours=12), history.now]
            await compare_figures(conn, slices, moments, zone.key)
            # Folded into shard 0, the counts and the figures stay.
            await compact(conn)
            d = t.statistics_daily.c
            assert set(await conn.scalars(select(d.shard).distinct())) <= {WHOLE}
            folded, _ = await kept_and_recomputed(conn)
            assert folded == kept
            await compare_figures(conn, slices, moments, zone.key)
            # The recompute gives the same table.
            await recompute(conn)
            again, _ = await kept_and_recomputed(conn)
            assert again == kept
    finally:
        # Each example starts from empty tables, so the figures are this history's alone.
        async with connected(engine) as conn:
            for table in PER_TEST_TABLES:
                await conn.execute(text(f"DELETE FROM {table}"))
