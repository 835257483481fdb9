"""Follow-up statistics over HTTP: hand-worked figures, agreement with the liability report and
the summons-deadline list, suppression, CSV, charts and bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.v1.plan_schemas import EXAMPLE_CONTENT
from app.store import tables as t
from tests.conftest import ClientFor
from tests.database import connected
from tests.factories import admit, create_person, notice

MUNICIPALITY = "kommun-2582"  # Boden, in the cooperation area Luleå–Boden
AREA = "area-luleaboden"
WARD = "region-norrbotten-sunderby-med"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def step(client: httpx.AsyncClient, episode_id: str, kind: str, at: datetime, **extra: Any):
    response = await notice(client, episode_id, kind, at, **extra)
    assert response.status_code == 200, response.text


async def march_2022(client: httpx.AsyncClient) -> dict[str, str]:
    """Three admissions in March 2022 (Stockholm is UTC+1 then):

    A: admitted Mar 2 08:00, notified 1 h later; discharge-ready Mar 5 10:00 asking for
       coordinated planning (no summons follows: breached); discharged Mar 12 10:00 → 7 days,
       liable Mar 8, 9, 10, 11 = 4 days × 9 300 SEK = 37 200 SEK.
    B: admitted Mar 10 08:00, notified 28 h later (late); ready Mar 14, withdrawn Mar 15, ready
       again Mar 16 09:00 and discharged the same day → 0 days, nothing liable.
    A again: admitted acutely Mar 20, 8 days after the discharge: a readmission.
    """
    a = await create_person(client, municipality=MUNICIPALITY)
    b = await create_person(client, municipality=MUNICIPALITY)
    first = await admit(client, a["id"], utc(2022, 3, 2, 8), unit=WARD)
    await step(client, first["id"], "admission-notice", utc(2022, 3, 2, 9))
    await step(
        client, first["id"], "discharge-ready", utc(2022, 3, 5, 10), coordinated_planning=True
    )
    await step(client, first["id"], "discharge", utc(2022, 3, 12, 10))
    other = await admit(client, b["id"], utc(2022, 3, 10, 8), unit=WARD)
    await step(client, other["id"], "admission-notice", utc(2022, 3, 11, 12))
    await step(client, other["id"], "discharge-ready", utc(2022, 3, 14, 9))
    await step(client, other["id"], "withdrawal", utc(2022, 3, 15, 9))
    await step(client, other["id"], "discharge-ready", utc(2022, 3, 16, 9))
    await step(client, other["id"], "discharge", utc(2022, 3, 16, 15))
    again = await admit(client, a["id"], utc(2022, 3, 20, 8), unit=WARD)
    await step(client, again["id"], "admission-notice", utc(2022, 3, 20, 9))
    return {"first": first["id"], "other": other["id"], "again": again["id"]}


def figures(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The single figure of each indicator (one period, no breakdown)."""
    found = {}
    for item in body["indicators"]:
        [figure] = item["figures"]
        found[item["code"]] = figure
    return found


async def test_hand_worked_figures_of_every_episode_indicator(client: httpx.AsyncClient) -> None:
    await march_2022(client)
    response = await client.get("/api/v1/statistics", params={"period": "2022-03"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject"]["id"] == "region-norrbotten" and body["suppression"] is None
    assert body["time_zone"] == "Europe/Stockholm"
    got = figures(body)
    assert all(item["definition"].endswith(".") for item in body["indicators"])
    assert got["admissions-notified"]["values"] == {"count": 3}
    assert got["admission-notice-within-24h"]["values"] == {
        "numerator": 2,
        "denominator": 3,
        "share": 0.6667,
    }
    assert got["discharge-ready-notices"]["values"] == {"count": 3}
    assert got["discharge-ready-withdrawals"]["values"] == {"count": 1}
    # 0 and 7 days: median 3.5, p90 the 2nd of 2 values, mean 3.5.
    days = got["days-ready-to-discharge"]
    assert days["values"] == {"n": 2, "median": 3.5, "p90": 7, "mean": 3.5}
    assert days["strata"] == {
        "0": 1, "1": 0, "2": 0, "3": 0, "4-7": 1, "8-14": 0, "15-30": 0, ">30": 0
    }  # fmt: skip
    assert got["readmissions-30-days"]["values"] == {
        "numerator": 1,
        "denominator": 2,
        "share": 0.5,
    }
    assert got["summons-within-deadline"]["values"] == {
        "numerator": 0,
        "denominator": 1,
        "share": 0.0,
    }
    assert got["liable-days"]["values"] == {
        "days": 4,
        "episodes": 1,
        "amount": "37200.00",
        "currency": "SEK",
    }
    for code in (
        "plans-started",
        "plans-activated",
        "plans-completed",
        "meetings-held",
        "care-messages",
    ):
        assert got[code]["values"] == {"count": 0}, code
    assert got["deviations-by-category"]["values"] == {"count": 0}
    assert got["deviation-hours-to-answer"]["values"]["n"] == 0


async def test_statistics_agree_with_the_invoice_basis_and_the_deadline_list(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    await march_2022(client)
    boden = await client_for(MUNICIPALITY)
    own = await boden.get(
        "/api/v1/statistics",
        params={"period": "2022-03", "indicator": ["liable-days", "summons-within-deadline"]},
    )
    assert own.status_code == 200, own.text
    liable = figures(own.json())["liable-days"]["values"]
    report = (await boden.get(f"/api/v1/liability/reports/{MUNICIPALITY}/2022-03")).json()
    assert liable["days"] == report["total_liable_days"] == 4
    assert Decimal(liable["amount"]) == Decimal(report["total_amount"])

    deadlines = (await client.get("/api/v1/summons-deadlines")).json()
    march = [d for d in deadlines if d["discharge_ready_at"].startswith("2022-03")]
    decided = [d for d in march if d["status"] in ("met", "late", "breached")]
    summons = figures(
        (
            await client.get(
                "/api/v1/statistics",
                params={"period": "2022-03", "indicator": "summons-within-deadline"},
            )
        ).json()
    )["summons-within-deadline"]["values"]
    assert summons["denominator"] == len(decided) == 1
    assert summons["numerator"] == sum(d["status"] == "met" for d in decided)


async def test_shared_figures_suppress_small_cells_and_areas_answer_like_missing_ones(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    await march_2022(client)
    boden = await client_for(MUNICIPALITY)
    area = await boden.get(
        "/api/v1/statistics",
        params={"period": "2022-03", "area": AREA, "indicator": "admissions-notified"},
    )
    assert area.status_code == 200, area.text
    [figure] = area.json()["indicators"][0]["figures"]
    assert figure["values"] == {"count": None} and figure["suppressed"] == ["count"]
    assert area.json()["suppression"]

    by_municipality = await client.get(
        "/api/v1/statistics",
        params={"period": "2022-03", "by": "municipality", "indicator": "admissions-notified"},
    )
    assert [f["values"]["count"] for f in by_municipality.json()["indicators"][0]["figures"]] == [
        None
    ]

    # An area Boden is no member of answers exactly as one that does not exist.
    kalmar_area = await boden.get(
        "/api/v1/statistics", params={"period": "2022-03", "area": "area-kalmar-lan"}
    )
    missing = await boden.get(
        "/api/v1/statistics", params={"period": "2022-03", "area": "area-nowhere"}
    )
    assert kalmar_area.status_code == missing.status_code == 404
    assert kalmar_area.json()["errors"][0]["field"] == "area"
    assert kalmar_area.json()["detail"].replace("area-kalmar-lan", "X") == missing.json()[
        "detail"
    ].replace("area-nowhere", "X")
    other = await boden.get(
        "/api/v1/statistics", params={"period": "2022-03", "organization": "region-norrbotten"}
    )
    assert other.status_code == 404 and other.json()["errors"][0]["field"] == "organization"


async def test_series_csv_and_charts(client: httpx.AsyncClient) -> None:
    await march_2022(client)
    params = {"indicator": "admissions-notified", "from": "2022-01", "to": "2022-06"}
    series = (await client.get("/api/v1/statistics", params=params)).json()
    counts = [f["values"]["count"] for f in series["indicators"][0]["figures"]]
    assert counts == [0, 0, 3, 0, 0, 0]
    quarters = (
        await client.get("/api/v1/statistics", params={**params, "interval": "quarter"})
    ).json()
    assert [f["period"] for f in quarters["indicators"][0]["figures"]] == ["2022-Q1", "2022-Q2"]
    assert [f["values"]["count"] for f in quarters["indicators"][0]["figures"]] == [3, 0]

    as_csv = await client.get("/api/v1/statistics", params=params, headers={"Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {(r["period"], r["measure"], r["value"]) for r in rows} >= {("2022-03", "count", "3")}

    svg = await client.get("/api/v1/statistics/chart", params=params)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<title" in svg.text and "<desc" in svg.text and "2022-03: 3" in svg.text
    png = await client.get(
        "/api/v1/statistics/chart", params=params, headers={"Accept": "image/png"}
    )
    assert png.content.startswith(b"\x89PNG") and "2022-03%3A 3" in png.headers[
        "x-text-alternative"
    ].replace(": ", "%3A ")
    assert 'rel="describedby"' in png.headers["link"]


async def test_bad_input_names_the_parameter(client: httpx.AsyncClient) -> None:
    cases = [
        ({"indicator": "bed-days", "period": "2026"}, 422, "indicator"),
        ({"period": "2026-W12"}, 422, "period"),
        ({"period": "2026-13"}, 422, "period"),
        ({"from": "2026-05", "to": "2026-02"}, 422, "from"),
        ({"from": "2010", "to": "2026"}, 422, "to"),
        ({"period": "2026", "by": "care-messages"}, 422, "by"),
        ({"period": "2026", "indicator": "care-messages", "by": "municipality"}, 422, "by"),
        ({"period": "2026", "area": "area-nowhere"}, 404, "area"),
        ({}, 422, "from"),
    ]
    for params, status, field in cases:
        response = await client.get("/api/v1/statistics", params=params)
        assert response.status_code == status, (params, response.text)
        fields = [e.get("field") or e.get("loc") for e in response.json().get("errors", [])]
        assert any(field in str(f) for f in fields), (params, response.json())


async def test_indicators_are_fhir_measures_and_evaluate_to_summary_reports(
    client: httpx.AsyncClient,
) -> None:
    await march_2022(client)
    statement = (await client.get("/fhir/metadata")).json()
    [served] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Measure"]
    assert served["operation"][0]["name"] == "evaluate-measure"
    bundle = (await client.get("/fhir/Measure", params={"_count": 50})).json()
    assert {e["resource"]["id"] for e in bundle["entry"]} >= {
        "admissions-notified",
        "liable-days",
        "days-ready-to-discharge",
    }
    share = (await client.get("/fhir/Measure/admission-notice-within-24h")).json()
    assert share["scoring"]["coding"][0]["code"] == "proportion"
    assert "denominator" in share["description"]

    report = await client.get(
        "/fhir/Measure/admission-notice-within-24h/$evaluate-measure",
        params={
            "periodStart": "2022-03-01",
            "periodEnd": "2022-03-31",
            "subject": "Organization/region-norrbotten",
        },
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["resourceType"], body["type"], body["status"]) == (
        "MeasureReport",
        "summary",
        "complete",
    )
    assert body["period"] == {"start": "2022-03-01", "end": "2022-03-31"}
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in body["group"][0]["population"]}
    assert counts == {"denominator": 3, "numerator": 2}
    assert body["group"][0]["measureScore"]["value"] == 0.6667

    quarter = (
        await client.get(
            "/fhir/Measure/days-ready-to-discharge/$evaluate-measure",
            params={"periodStart": "2022-01-01", "periodEnd": "2022-03-31"},
        )
    ).json()
    assert quarter["group"][0]["measureScore"]["value"] == 3.5
    strata = {
        s["value"]["text"]: s["population"][0]["count"]
        for s in quarter["group"][0]["stratifier"][0]["stratum"]
    }
    assert strata["0"] == 1 and strata["4-7"] == 1

    bad = await client.get(
        "/fhir/Measure/admissions-notified/$evaluate-measure",
        params={"periodStart": "2022-03-02", "periodEnd": "2022-03-31"},
    )
    assert bad.status_code == 422 and bad.json()["resourceType"] == "OperationOutcome"
    unknown = await client.get(
        "/fhir/Measure/bed-days/$evaluate-measure",
        params={"periodStart": "2022-03-01", "periodEnd": "2022-03-31"},
    )
    assert unknown.status_code == 404


async def test_unit_breakdown_adds_up_to_the_region(client: httpx.AsyncClient) -> None:
    await march_2022(client)
    codes = ["admissions-notified", "discharge-ready-notices", "liable-days"]
    params: dict[str, Any] = {"period": "2022-03", "indicator": codes}
    total = figures((await client.get("/api/v1/statistics", params=params)).json())
    by_unit = (await client.get("/api/v1/statistics", params={**params, "by": "unit"})).json()
    assert by_unit["suppression"] is None  # the region's own units: not shared
    for item in by_unit["indicators"]:
        key = "days" if item["code"] == "liable-days" else "count"
        assert sum(f["values"][key] for f in item["figures"]) == total[item["code"]]["values"][key]
        assert {f["group"] for f in item["figures"]} == {WARD}


async def active_plan(
    hc: httpx.AsyncClient,
    person_id: str,
    follow_ups: tuple[date, ...],
    given_at: datetime | None = None,
) -> str:
    """An active SIP with its follow-up dates, shared with the region and Kalmar municipality;
    consent given at ``given_at`` (default: now)."""
    content = {
        **EXAMPLE_CONTENT,
        "start_date": (follow_ups[0] - timedelta(days=10)).isoformat(),
        "planned_end_date": (follow_ups[-1] + timedelta(days=100)).isoformat(),
        "follow_up_dates": [d.isoformat() for d in follow_ups],
    }
    created = await hc.post("/api/v1/plans", json={"person_id": person_id, **content})
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    consent = await hc.post(
        f"/api/v1/plans/{plan_id}/consents",
        json={
            "given_by": "person",
            "given_at": (given_at or datetime.now(UTC)).isoformat(),
            "method": "oral",
            "share_with": ["region-kalmar", "kommun-0880"],
        },
    )
    assert consent.status_code == 201, consent.text
    active = await hc.post(f"/api/v1/plans/{plan_id}/activate", json={})
    assert active.status_code == 200, active.text
    return plan_id


async def test_hand_worked_overdue_follow_ups_and_meetings_held(
    client_for: ClientFor, engine: AsyncEngine
) -> None:
    """Three active plans in Kalmar, each with follow-ups on the first of last month (F1) and
    tomorrow (F2), Swedish dates:

    P: no meeting → F1 overdue (F2 has not come).
    Q: a meeting summoned, not held, whose time has passed (moved back to the day after F1, as
       if it had been summoned two days before): it does not answer F1 → F1 overdue.
    R: a meeting summoned for tomorrow and marked held now: after F1, no later than F2, so it
       answers F1 (late).
    Plans with an overdue follow-up: 2 in F1's month and year, 0 in this month. The local-date
    edges of the windows are worked in tests/unit/test_plans.py.
    Meetings held: 1 (R) in this month, none in F1's month, where Q's start fell: a meeting
    whose start passed is not one held.
    """
    stockholm = ZoneInfo("Europe/Stockholm")
    today = datetime.now(stockholm).date()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    tomorrow = today + timedelta(days=1)
    hc = await client_for("region-kalmar-hc-kalmar")
    region = await client_for("region-kalmar")
    plans = []
    for _ in range(3):
        person = await create_person(region, municipality="kommun-0880")
        plans.append(await active_plan(hc, person["id"], (first, tomorrow)))
    q, r = plans[1:]  # P has no meeting
    starts = datetime.combine(tomorrow, time(10, 0), stockholm)
    meetings = {}
    for plan_id in (q, r):
        summoned = await hc.post(
            "/api/v1/meetings",
            json={
                "plan_id": plan_id,
                "starts_at": starts.isoformat(),
                "reply_by": today.isoformat(),
                "participants": [{"id": "person", "kind": "person"}],
                "location": "Kalmar vårdcentral",
            },
        )
        assert summoned.status_code == 201, summoned.text
        meetings[plan_id] = summoned.json()["id"]
    held = await hc.post(
        f"/api/v1/meetings/{meetings[r]}/held",
        json={"attended": ["person"], "held_at": datetime.now(UTC).isoformat()},
    )
    assert held.status_code == 200, held.text
    # Time passes for Q's meeting without anyone marking it held.
    passed = datetime.combine(first + timedelta(days=1), time(10, 0), stockholm)
    async with connected(engine) as conn:
        await conn.execute(
            update(t.meetings)
            .where(t.meetings.c.id == meetings[q])
            .values(sent_at=passed - timedelta(days=2), starts_at=passed)
        )
    series = await region.get(
        "/api/v1/statistics",
        params={"from": f"{first:%Y-%m}", "to": f"{today:%Y-%m}", "indicator": "meetings-held"},
    )
    assert series.status_code == 200, series.text
    counts = {f["period"]: f["values"]["count"] for f in series.json()["indicators"][0]["figures"]}
    assert counts == {f"{first:%Y-%m}": 0, f"{today:%Y-%m}": 1}
    code = "plans-with-overdue-follow-up"
    expected = {f"{first:%Y-%m}": 2, f"{today:%Y-%m}": 0, f"{first:%Y}": 2}
    for period, count in expected.items():
        response = await region.get(
            "/api/v1/statistics", params={"period": period, "indicator": code}
        )
        assert response.status_code == 200, response.text
        assert figures(response.json())[code]["values"] == {"count": count}, period
    # The overdue list of the plans (the domain's rule) names the same two plans.
    listed = await region.get("/api/v1/plans/overdue-follow-ups")
    assert listed.status_code == 200, listed.text
    assert sorted(item["plan_id"] for item in listed.json()) == sorted([plans[0], q])
