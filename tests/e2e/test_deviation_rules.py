"""Deviations that raise themselves: a late admission notice (both countries), a breached
summons deadline (Sweden) and discharge information missing on the discharge day (both), each
raised once, by one of several job runs at once, routed and delivered like a reported one, and
visible only to its parties."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.deviation_rules import RULES, Finding
from app.services import deviation_rules
from app.services.deviation_rules import raise_due
from app.settings import Settings
from app.store.database import create_engine
from app.store.unit_of_work import UnitOfWork
from tests.conftest import ClientFor
from tests.factories import admit, create_person, notice

KALMAR_WARD = "region-kalmar-lanssjukhuset-med"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def everything(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The caller's inbox, polled until nothing more comes, as a receiving system does."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "200", **({"since": cursor} if cursor else {})}
        page = ok(await http.get("/api/v1/inbox", params=params))
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["more"]:
            return items


async def episode_with(
    hospital: httpx.AsyncClient, *, admitted: datetime, notice_after: timedelta, **kw: Any
) -> dict[str, Any]:
    person = await create_person(hospital, municipality=kw.pop("municipality", "kommun-0880"))
    episode = await admit(hospital, person["id"], admitted, unit=kw.pop("unit", KALMAR_WARD), **kw)
    ok(await notice(hospital, episode["id"], "admission-notice", admitted + notice_after))
    return episode


async def raised_about(engine: AsyncEngine, episode_id: str) -> list[tuple[str, str]]:
    async with UnitOfWork(engine) as uow:
        rows = await uow.deviation_rules.raised("late-admission-notice", episode_id)
        rows += await uow.deviation_rules.raised("summons-deadline-missed", episode_id)
        rows += await uow.deviation_rules.raised("missing-discharge-information", episode_id)
    return [(r, episode_id) for r in rows]


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_late_admission_notices_are_raised_once_in_both_countries(
    client_for: ClientFor, engine: AsyncEngine, now: datetime
) -> None:
    kalmar = await client_for("region-kalmar")
    late = await episode_with(
        kalmar, admitted=now - timedelta(days=3), notice_after=timedelta(hours=30)
    )
    in_time = await episode_with(
        kalmar, admitted=now - timedelta(days=3), notice_after=timedelta(hours=23)
    )
    stavanger = await client_for("helse-stavanger")
    norwegian = await create_person(stavanger, municipality="kommune-1120", country="NO")
    no_episode = await admit(
        stavanger, norwegian["id"], now - timedelta(days=4), unit="helse-stavanger-sus-med"
    )
    ok(await notice(stavanger, no_episode["id"], "admission-notice", now - timedelta(days=2)))

    raised = await raise_due(engine, now=now, rules=(RULES["late-admission-notice"],))
    assert len(raised) == 2
    assert await raise_due(engine, now=now) == []
    # The on-time notice is decided too, with nothing raised, and never looked at again.
    assert await raised_about(engine, in_time["id"]) == []

    municipality = await client_for("kommun-0880")
    listed = ok(await municipality.get("/api/v1/deviations", params={"role": "reporter"}))
    mine = [d for d in listed["items"] if d["episode_id"] == late["id"]]
    assert len(mine) == 1
    deviation = mine[0]
    assert deviation["category"] == "late-admission-notice"
    assert deviation["raised_by_rule"] == "late-admission-notice"
    assert (deviation["reporter_id"], deviation["handler_principal_id"]) == (
        "kommun-0880",
        "region-kalmar",
    )
    assert "30 hours after the admission" in deviation["description"]
    # Routed to the region's handler like a reported deviation, and delivered to both sides.
    handler = await client_for(deviation["handler_id"])
    handled = ok(await handler.get(f"/api/v1/deviations/{deviation['id']}"))
    assert handled["state"] == "reported"
    for side in (handler, municipality):
        items = await everything(side)
        assert any(
            i["event"] == "deviation-report"
            and i["focus"] == f"Task/{deviation['id']}"
            and i["payload"]["raised_by_rule"] == "late-admission-notice"
            for i in items
        )
    # The handler moves it on as any other; a stranger does not see it.
    ok(
        await handler.post(
            f"/api/v1/deviations/{deviation['id']}/handling", json={"state": "investigating"}
        )
    )
    stranger = await client_for("kommun-2580")
    assert (await stranger.get(f"/api/v1/deviations/{deviation['id']}")).status_code == 404
    task = ok(await handler.get(f"/fhir/Task/{deviation['id']}"))
    assert {
        "url": "https://samverkan.dev/fhir/StructureDefinition/raised-by-rule",
        "valueCode": "late-admission-notice",
    } in task["extension"]
    # Norway is flagged too, to the health trust.
    klepp = await client_for("kommune-1120")
    norwegian_deviations = ok(await klepp.get("/api/v1/deviations"))["items"]
    assert [
        (d["category"], d["handler_principal_id"])
        for d in norwegian_deviations
        if d["episode_id"] == no_episode["id"]
    ] == [("late-admission-notice", "helse-stavanger")]


async def test_a_breached_summons_deadline_is_raised_once_and_a_kept_one_never(
    client_for: ClientFor, engine: AsyncEngine, now: datetime
) -> None:
    kalmar = await client_for("region-kalmar")
    municipality = await client_for("kommun-0880")
    breached = await episode_with(
        kalmar,
        admitted=now - timedelta(days=12),
        notice_after=timedelta(hours=2),
        primary_care_unit_id="region-kalmar-hc-kalmar",
    )
    ok(
        await notice(
            kalmar,
            breached["id"],
            "discharge-ready",
            now - timedelta(days=6),
            coordinated_planning=True,
        )
    )
    kept = await episode_with(
        kalmar, admitted=now - timedelta(days=3), notice_after=timedelta(hours=2)
    )
    ok(
        await notice(
            kalmar,
            kept["id"],
            "discharge-ready",
            now - timedelta(days=1),
            coordinated_planning=True,
        )
    )
    starts = now + timedelta(days=2)
    ok(
        await municipality.post(
            "/api/v1/meetings",
            json={
                "episode_id": kept["id"],
                "starts_at": starts.isoformat(),
                "reply_by": starts.date().isoformat(),
                "location": "Länssjukhuset",
                "participants": [{"id": "ward", "kind": "unit", "organization_id": KALMAR_WARD}],
            },
        ),
        201,
    )
    rule = RULES["summons-deadline-missed"]
    raised = await raise_due(engine, now=now, rules=(rule,))
    assert len(raised) == 1
    # The kept deadline is still ahead today, so it is not decided yet; a week on it is kept.
    assert await raise_due(engine, now=now + timedelta(days=7), rules=(rule,)) == []
    async with UnitOfWork(engine) as uow:
        assert (
            await uow.deviation_rules.undecided(
                rule, sent_before=now + timedelta(days=7), after=None, limit=10
            )
            == []
        )
    deviation = ok(await kalmar.get(f"/api/v1/deviations/{raised[0]}"))
    assert (deviation["category"], deviation["episode_id"]) == (
        "summons-deadline-missed",
        breached["id"],
    )
    assert "no summons had been sent" in deviation["description"]


@pytest.mark.committing
async def test_two_job_runs_at_once_raise_each_deviation_once(
    client_for: ClientFor, engine: AsyncEngine, settings: Settings, now: datetime
) -> None:
    kalmar = await client_for("region-kalmar")
    episodes = [
        await episode_with(kalmar, admitted=now - timedelta(days=5), notice_after=timedelta(days=2))
        for _ in range(6)
    ]
    # A second engine stands for a second process.
    other = create_engine(settings.database_url, pool_size=2)
    try:
        first, second = await asyncio.gather(raise_due(engine, now=now), raise_due(other, now=now))
    finally:
        await other.dispose()
    assert not set(first) & set(second)
    ids = {e["id"] for e in episodes}
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT episode_id, category, id FROM deviations WHERE category = :c"),
                {"c": "late-admission-notice"},
            )
        ).all()
    assert sorted(r.episode_id for r in rows) == sorted(ids)
    assert {r.id for r in rows} == set(first) | set(second)


@pytest.mark.committing  # two transactions at once
async def test_a_decision_is_written_by_one_of_two_transactions(
    engine: AsyncEngine, now: datetime
) -> None:
    finding = Finding("late-admission-notice", "race-record", 0, None)
    async with UnitOfWork(engine) as first:
        assert await first.deviation_rules.decide(finding, "dev-1", now)

        async def second() -> bool:
            async with UnitOfWork(engine) as uow:
                written = await uow.deviation_rules.decide(finding, "dev-2", now)
                await uow.commit()
                return written

        # The second waits on the first (PostgreSQL: the row's key; SQLite: the write lock),
        # then finds the decision made.
        racing = asyncio.create_task(second())
        await asyncio.sleep(0.2)
        assert not racing.done()
        await first.commit()
    assert await racing is False
    async with UnitOfWork(engine) as uow:
        assert await uow.deviation_rules.raised("late-admission-notice", "race-record") == ["dev-1"]


@pytest.mark.committing  # the job runs beside the test
async def test_the_scheduled_job_raises_until_it_is_stopped(
    client_for: ClientFor, engine: AsyncEngine, now: datetime
) -> None:
    kalmar = await client_for("region-kalmar")
    late = await episode_with(
        kalmar, admitted=now - timedelta(days=3), notice_after=timedelta(hours=25)
    )
    stop = asyncio.Event()
    job = asyncio.create_task(deviation_rules.run(engine, 0.05, stop))
    try:
        for _ in range(400):  # at most 20 s
            if await raised_about(engine, late["id"]):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(job, 5)
    assert len(await raised_about(engine, late["id"])) == 1


def discharge_information(title: str) -> dict[str, str]:
    text = base64.b64encode(f"{title}: utskriven till eget boende.".encode()).decode()
    return {
        "type": "discharge-information",
        "title": title,
        "content_type": "text/plain",
        "data": text,
    }


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_missing_discharge_information_is_raised_once_the_discharge_day_ends(
    client_for: ClientFor, engine: AsyncEngine, now: datetime
) -> None:
    kalmar = await client_for("region-kalmar")
    municipality = await client_for("kommun-0880")
    admitted = now - timedelta(days=6)

    async def discharged(at: datetime | None, **body: Any) -> dict[str, Any]:
        episode = await episode_with(kalmar, admitted=admitted, notice_after=timedelta(hours=1))
        sent: dict[str, Any] = ok(await notice(kalmar, episode["id"], "discharge", at, **body))
        return sent

    # Discharged now with the discharge information (the notice and its document in one
    # request, so on the same day whatever the hour): kept, and decided at once.
    with_it = await discharged(None, documents=[discharge_information("Utskrivningsinformation")])
    assert with_it["discharge_information"] == "on-time"
    # Discharged three days ago without it: raised.
    without = await discharged(now - timedelta(days=3))
    # Discharged three days ago; the information came afterwards, on its own: raised all the same.
    afterwards = await discharged(now - timedelta(days=3))
    ok(
        await kalmar.post(
            "/api/v1/documents",
            json={
                "attached_to": {"type": "episode", "id": afterwards["id"]},
                **discharge_information("Epikris"),
            },
        ),
        201,
    )
    # Discharged now without it: the day has not ended, so nothing is decided yet. The job
    # runs at the discharge's own instant, so that no local midnight falls in between.
    today_at = datetime.now(UTC)
    today = await discharged(today_at)
    run_at = today_at + timedelta(microseconds=1)
    # A Norwegian stay discharged two days ago without it: raised to the health trust.
    stavanger = await client_for("helse-stavanger")
    norwegian = await create_person(stavanger, municipality="kommune-1120", country="NO")
    no_episode = await admit(stavanger, norwegian["id"], admitted, unit="helse-stavanger-sus-med")
    ok(await notice(stavanger, no_episode["id"], "admission-notice", admitted + timedelta(hours=1)))
    ok(await notice(stavanger, no_episode["id"], "discharge", now - timedelta(days=2)))

    rule = RULES["missing-discharge-information"]
    raised = await raise_due(engine, now=run_at, rules=(rule,))
    assert len(raised) == 3
    assert await raise_due(engine, now=run_at, rules=(rule,)) == []
    for kept in (with_it, today):
        assert await raised_about(engine, kept["id"]) == []
    async with UnitOfWork(engine) as uow:
        # Only today's discharge is still open; the kept one was decided with nothing raised.
        undecided = await uow.deviation_rules.undecided(
            rule, sent_before=run_at, after=None, limit=10
        )
    assert undecided == [today["id"]]

    by_episode = {
        d["episode_id"]: d
        for d in ok(await municipality.get("/api/v1/deviations", params={"role": "reporter"}))[
            "items"
        ]
    }
    assert set(by_episode) == {without["id"], afterwards["id"]}
    for episode_id, came in ((without["id"], "none had come"), (afterwards["id"], "it came")):
        deviation = by_episode[episode_id]
        assert (deviation["category"], deviation["raised_by_rule"]) == (
            "missing-discharge-information",
            "missing-discharge-information",
        )
        assert (deviation["reporter_id"], deviation["handler_principal_id"]) == (
            "kommun-0880",
            "region-kalmar",
        )
        assert "no discharge information had reached the service" in deviation["description"]
        assert came in deviation["description"]
        # The episode's own flag says the same.
        episode = ok(await municipality.get(f"/api/v1/episodes/{episode_id}"))
        assert episode["discharge_information"] == "late"
    # Routed to the region's handler and delivered to both sides, like a reported one.
    deviation = by_episode[without["id"]]
    handler = await client_for(deviation["handler_id"])
    for side in (handler, municipality):
        assert [
            i["payload"]["raised_by_rule"]
            for i in await everything(side)
            if i["event"] == "deviation-report" and i["focus"] == f"Task/{deviation['id']}"
        ] == ["missing-discharge-information"]
    klepp = await client_for("kommune-1120")
    assert [
        (d["category"], d["handler_principal_id"])
        for d in ok(await klepp.get("/api/v1/deviations"))["items"]
        if d["episode_id"] == no_episode["id"]
    ] == [("missing-discharge-information", "helse-stavanger")]

    # When today's discharge day has ended, it is raised too, once.
    tomorrow = today_at + timedelta(days=1)
    assert len(await raise_due(engine, now=tomorrow, rules=(rule,))) == 1
    assert len(await raised_about(engine, today["id"])) == 1
    assert await raise_due(engine, now=tomorrow) == []
