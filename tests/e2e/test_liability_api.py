"""Payment liability over the API: an episode's figure and the monthly invoice basis."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.v1 import liability as liability_api
from app.api.v1.liability import MonthlyReportRead
from app.services import liability as liability_service
from tests.conftest import ClientFor
from tests.database import connected
from tests.e2e.test_access_log import entries_of
from tests.factories import admit, create_person, notice


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def as_declared(report: dict[str, Any]) -> dict[str, Any]:
    """The report body, checked to be what the declared ``MonthlyReportRead`` makes of it (the
    body is built without the model, for speed)."""
    assert MonthlyReportRead.model_validate(report).model_dump(mode="json") == report
    return report


async def run_episode(
    client: httpx.AsyncClient,
    person_id: str,
    unit: str,
    admitted: datetime,
    ready: datetime,
    discharged: datetime | None,
) -> dict[str, Any]:
    episode = await admit(client, person_id, admitted, unit=unit)
    for kind, at in [
        ("admission-notice", admitted.replace(hour=admitted.hour + 1)),
        ("discharge-ready", ready),
        ("discharge", discharged),
    ]:
        if at is not None:
            response = await notice(client, episode["id"], kind, at)
            assert response.status_code == 200, response.text
    return episode


async def march_episodes(
    client: httpx.AsyncClient,
    municipality: str,
    admitted_on: Iterable[int],
    discharged_on: Callable[[int], int],
) -> dict[str, str]:
    """A person of ``municipality`` for each day of ``admitted_on``, each with an episode at
    Sunderby's medical ward in March 2022: admitted on that day, discharge-ready three days
    later and discharged on ``discharged_on(day)``; episode id → person id, in that order."""
    persons = {}
    for day in admitted_on:
        person = await create_person(client, municipality=municipality)
        episode = await run_episode(
            client,
            person["id"],
            "region-norrbotten-sunderby-med",
            utc(2022, 3, day, 8),
            utc(2022, 3, day + 3, 10),
            utc(2022, 3, discharged_on(day), 10),
        )
        persons[episode["id"]] = person["id"]
    return persons


async def test_episode_liability_names_rule_set_and_rates(client: httpx.AsyncClient) -> None:
    person = await create_person(client, municipality="kommun-2582")
    # ready 2026-03-05 11:00 local → day 0 is Mar 5, liable from Mar 8; discharged Mar 12:
    # Mar 8, 9, 10, 11 = 4 days × 9 300 (2022's rate carried forward to 2026) = 37 200 SEK
    episode = await run_episode(
        client,
        person["id"],
        "region-norrbotten-sunderby-med",
        utc(2022, 3, 2, 8),
        utc(2022, 3, 5, 10),
        utc(2022, 3, 12, 10),
    )
    body = (await client.get(f"/api/v1/episodes/{episode['id']}/liability")).json()
    assert body["rule_set_id"] == "se-statutory-somatic"
    assert body["liable_days"] == 4
    # Amounts and rates are decimal strings with two places, with the currency beside them.
    assert (body["amount"], body["currency"]) == ("37200.00", "SEK")
    assert body["rates"] == [{"year": 2022, "rate": "9300.00", "note": None}]
    assert body["clocks"][0]["liable_dates"] == [
        "2022-03-08",
        "2022-03-09",
        "2022-03-10",
        "2022-03-11",
    ]


async def test_a_year_without_a_rate_reports_days_with_an_empty_amount(
    client: httpx.AsyncClient,
) -> None:
    municipality = "kommun-2582"
    person = await create_person(client, municipality=municipality)
    # 2026 has no published amount in the shipped table: 4 liable days, no amount, flagged.
    episode = await run_episode(
        client,
        person["id"],
        "region-norrbotten-sunderby-med",
        datetime(2026, 3, 2, 8, tzinfo=UTC),
        datetime(2026, 3, 5, 10, tzinfo=UTC),
        datetime(2026, 3, 12, 10, tzinfo=UTC),
    )
    body = (await client.get(f"/api/v1/episodes/{episode['id']}/liability")).json()
    assert (body["liable_days"], body["amount"], body["notes"]) == (4, None, ["no rate for 2026"])
    report = await client.get(f"/api/v1/liability/reports/{municipality}/2026-03")
    assert report.status_code == 200, report.text
    [row] = as_declared(report.json())["rows"]
    assert (row["liable_days"], row["rate"], row["amount"]) == (4, None, None)
    assert report.json()["total_amount"] is None
    assert report.json()["notes"] == ["no rate for 2026"]
    table = list(
        csv.DictReader(
            io.StringIO(
                (
                    await client.get(
                        f"/api/v1/liability/reports/{municipality}/2026-03",
                        params={"format": "csv"},
                    )
                ).text
            )
        )
    )
    assert [(r["liable_days"], r["rate"], r["amount"], r["note"]) for r in table] == [
        ("4", "", "", "no rate for 2026")
    ]


async def test_psychiatric_ward_uses_the_thirty_day_rule_only_for_notices_of_2018(
    client: httpx.AsyncClient,
) -> None:
    person = await create_person(client, municipality="kommun-2582")
    found = {}
    for year in (2018, 2022):
        episode = await run_episode(
            client,
            person["id"],
            "region-norrbotten-sunderby-psyk",
            utc(year, 3, 2, 8),
            utc(year, 3, 5, 10),
            utc(year, 3, 12, 10),
        )
        body = (await client.get(f"/api/v1/episodes/{episode['id']}/liability")).json()
        found[year] = (body["rule_set_id"], body["liable_days"])
    assert found == {2018: ("se-statutory-psychiatric", 0), 2022: ("se-statutory-somatic", 4)}


async def test_monthly_report_splits_months_and_masks_protected_persons(
    client: httpx.AsyncClient,
) -> None:
    municipality = "kommun-2582"
    open_person = await create_person(client, municipality=municipality, given_name="Viola")
    hidden = await create_person(
        client,
        municipality=municipality,
        given_name="Hemlig",
        protected_identity=True,
        address="Okänd väg 3",
    )
    first = await run_episode(
        client,
        open_person["id"],
        "region-norrbotten-sunderby-med",
        utc(2022, 3, 2, 8),
        utc(2022, 3, 5, 10),
        utc(2022, 3, 12, 10),
    )
    # ready Mar 20 → liable Mar 23..Apr 2: 9 days in March, 2 in April
    second = await run_episode(
        client,
        hidden["id"],
        "region-norrbotten-sunderby-med",
        utc(2022, 3, 18, 8),
        utc(2022, 3, 20, 9),
        utc(2022, 4, 3, 8),
    )

    march = as_declared(
        (await client.get(f"/api/v1/liability/reports/{municipality}/2022-03")).json()
    )
    rows = {r["episode_id"]: r for r in march["rows"]}
    assert rows[first["id"]]["liable_days"] == 4
    assert rows[second["id"]]["liable_days"] == 9
    assert march["total_liable_days"] == 13
    assert march["total_amount"] == f"{13 * 9300}.00"
    assert {r["rate"] for r in march["rows"]} == {"9300.00"}
    assert march["currency"] == "SEK" and march["averages"] == []
    assert {(r["amount"], r["currency"]) for r in march["rows"]} == {
        ("37200.00", "SEK"),
        ("83700.00", "SEK"),
    }
    masked = rows[second["id"]]
    assert masked["protected_identity"] is True
    assert "Hemlig" not in str(march) and hidden["identifier"]["value"] not in str(march)
    assert "Okänd" not in str(march)

    april = (await client.get(f"/api/v1/liability/reports/{municipality}/2022-04")).json()
    assert [(r["episode_id"], r["liable_days"]) for r in april["rows"]] == [(second["id"], 2)]

    as_csv = await client.get(
        f"/api/v1/liability/reports/{municipality}/2022-03", params={"format": "csv"}
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {r["episode_id"]: (int(r["liable_days"]), r["rate"], r["amount"]) for r in table} == {
        first["id"]: (4, "9300.00", "37200.00"),
        second["id"]: (9, "9300.00", "83700.00"),
    }
    assert "Hemlig" not in as_csv.text and hidden["identifier"]["value"] not in as_csv.text
    by_accept = await client.get(
        f"/api/v1/liability/reports/{municipality}/2022-03", headers={"Accept": "text/csv"}
    )
    assert by_accept.text == as_csv.text


async def test_a_report_sent_in_parts_is_the_report_read_whole(
    client: httpx.AsyncClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API sends a report as it reads it, a part at a time: five rows in parts of two are
    the same document and the same CSV as in one part, and each row is logged once, with the
    request, whatever the parts."""
    municipality = "kommun-2582"
    persons = await march_episodes(client, municipality, range(2, 7), lambda day: 2 * day + 8)
    episodes = list(persons)
    path = f"/api/v1/liability/reports/{municipality}/2022-03"
    sent = {}
    for part in (2000, 2, 1):
        monkeypatch.setattr(liability_api, "REPORT_PART", part)
        as_json = await client.get(path, headers={"X-Request-ID": f"report-in-parts-{part}"})
        as_csv = await client.get(path, params={"format": "csv"})
        assert as_json.status_code == as_csv.status_code == 200, as_json.text
        document = as_declared(as_json.json())
        del document["as_of"]  # the time of each request
        sent[part] = (document, as_csv.text)
        logged = await entries_of(engine, f"report-in-parts-{part}")
        read = [e for e in logged if e["resource_type"] == "LiabilityReport"]
        # Once each, in the report's order, about the episode's person, and otherwise the entry
        # every row of the request shares (written by SQL with the part's read).
        assert [e["resource_id"] for e in read] == episodes
        assert [e["person_id"] for e in read] == [persons[e] for e in episodes]
        shared = {k: v for k, v in read[0].items() if k not in ("id", "resource_id", "person_id")}
        assert shared["action"] == "read" and shared["outcome"] == "success"
        assert shared["principal_id"] == "region-norrbotten" and shared["client_id"]
        assert shared["at"] is not None and shared["purpose"]
        for e in read:
            assert {k: e[k] for k in shared if k != "at"} == {
                k: v for k, v in shared.items() if k != "at"
            }
    whole = sent[2000][0]
    assert [r["episode_id"] for r in whole["rows"]] == episodes
    assert whole["total_liable_days"] == sum(r["liable_days"] for r in whole["rows"])
    assert sent[2] == sent[1] == sent[2000]


async def test_parts_after_the_first_are_the_rows_of_the_month_read_once_in_order(
    client: httpx.AsyncClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report of several parts reads the places of its later rows once and each later part
    by its own episodes (issue 20): with episodes admitted at the same instant (ordered by
    id) and episodes of two rows (two rule sets), whose rows fall in two parts, every part size
    gives the same JSON and CSV, and every row is logged once, in the report's order."""
    municipality = "kommun-2582"
    episodes = list(
        await march_episodes(client, municipality, (2, 2, 3, 3, 4, 5, 6), lambda _day: 20)
    )
    # A second row for three episodes: their intervals again as a clock of another rule set
    # (what a binding that changes within the month gives), so that their rows are two.
    doubled = episodes[1:4]
    async with connected(engine) as conn:
        for episode_id in doubled:
            await conn.execute(
                text(
                    "INSERT INTO liable_intervals SELECT episode_id, clock + 100, region_id, "
                    "municipality_id, unit_id, 'se-statutory-psychiatric', rule_set_version, "
                    "rate_table_id, rate_table_version, counting, first_day, stop_day, "
                    "first_at_us, periods, ends_at_us, config_version FROM liable_intervals "
                    "WHERE episode_id = :id"
                ),
                {"id": episode_id},
            )
    path = f"/api/v1/liability/reports/{municipality}/2022-03"
    sent = {}
    for part in (2000, 4, 3, 2, 1):
        monkeypatch.setattr(liability_api, "REPORT_PART", part)
        request_id = f"report-read-once-{part}"
        as_json = await client.get(path, headers={"X-Request-ID": request_id})
        as_csv = await client.get(path, params={"format": "csv"})
        assert as_json.status_code == as_csv.status_code == 200, as_json.text
        document = as_declared(as_json.json())
        del document["as_of"]
        sent[part] = (document, as_csv.text)
        read = [
            (e["resource_id"], e["outcome"])
            for e in await entries_of(engine, request_id)
            if e["resource_type"] == "LiabilityReport"
        ]
        assert read == [(r["episode_id"], "success") for r in document["rows"]], part
    whole = sent[2000][0]
    rows = [(r["episode_id"], r["rule_set_id"]) for r in whole["rows"]]
    assert len(rows) == len(episodes) + len(doubled) == len(set(rows))
    # Admission first, then episode id, then rule set.
    admitted = {e: i // 2 if i < 4 else i for i, e in enumerate(episodes)}
    assert rows == sorted(rows, key=lambda r: (admitted[r[0]], r[0], r[1]))
    assert {e for e, rule_set in rows if rule_set == "se-statutory-psychiatric"} == set(doubled)
    for part in (4, 3, 2, 1):
        assert sent[part] == sent[2000], part


async def test_a_later_part_that_fails_is_logged_as_failed_and_the_parts_before_it_are_not(
    client: httpx.AsyncClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts of two rows: the first is read, logged and sent; the second fails after its read
    and its rows are logged as failed; the rows after it are never read, nor logged."""
    municipality = "kommun-2582"
    episodes = list(await march_episodes(client, municipality, range(2, 7), lambda _day: 12))
    monkeypatch.setattr(liability_api, "REPORT_PART", 2)
    listed = liability_service.listed_persons
    calls = []

    async def second_fails(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the second part fails after its rows were read")
        return await listed(*args)

    monkeypatch.setattr(liability_service, "listed_persons", second_fails)
    with pytest.raises(RuntimeError, match="second part fails"):
        await client.get(
            f"/api/v1/liability/reports/{municipality}/2022-03",
            headers={"X-Request-ID": "report-later-part-fails"},
        )
    read = [
        (e["resource_id"], e["outcome"])
        for e in await entries_of(engine, "report-later-part-fails")
        if e["resource_type"] == "LiabilityReport"
    ]
    assert sorted(read) == sorted(
        [(e, "success") for e in episodes[:2]] + [(e, "failed") for e in episodes[2:4]]
    )


async def test_a_part_that_fails_after_its_read_leaves_its_rows_logged_once_as_failed(
    client: httpx.AsyncClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part's rows are logged by the statement that reads them; if the part's transaction
    then fails, they are logged again as failed in a transaction of their own, and once only
    (the first writing was rolled back with the part)."""
    municipality = "kommun-2582"
    episodes = list(await march_episodes(client, municipality, range(2, 5), lambda _day: 12))

    async def fails(*_args: object) -> object:
        raise RuntimeError("the part fails after its rows were read")

    monkeypatch.setattr(liability_service, "listed_persons", fails)
    with pytest.raises(RuntimeError, match="after its rows were read"):
        await client.get(
            f"/api/v1/liability/reports/{municipality}/2022-03",
            headers={"X-Request-ID": "report-part-fails"},
        )
    logged = await entries_of(engine, "report-part-fails")
    read = [
        (e["resource_id"], e["outcome"]) for e in logged if e["resource_type"] == "LiabilityReport"
    ]
    assert sorted(read) == sorted((episode, "failed") for episode in episodes)


async def test_average_model_municipality_shows_average_rolling_average_and_level(
    client_for: ClientFor,
) -> None:
    municipality, ward = "kommun-1490", "region-vgr-sas-boras-med"
    client = await client_for("region-vgr")
    people = [await create_person(client, municipality=municipality) for _ in range(3)]
    # First quarter: a same-day discharge (0 days) and one of 8 days → 8 / 2 = 4.0 > 3.5
    await run_episode(
        client, people[0]["id"], ward, utc(2022, 2, 9, 8), utc(2022, 2, 10, 9), utc(2022, 2, 10, 15)
    )
    await run_episode(
        client, people[1]["id"], ward, utc(2022, 2, 11, 8), utc(2022, 2, 12, 9), utc(2022, 2, 20, 9)
    )
    # April is decided by March's evaluation: 5 days → excess 5 − 3.5 = 1.5 × 9 300 = 13 950
    april_episode = await run_episode(
        client, people[2]["id"], ward, utc(2022, 4, 5, 8), utc(2022, 4, 6, 9), utc(2022, 4, 11, 9)
    )

    report = as_declared(
        (await client.get(f"/api/v1/liability/reports/{municipality}/2022-04")).json()
    )
    assert report["rows"] == []
    [average] = report["averages"]
    assert average["rule_set_id"] == "se-average-stockholm"
    assert (average["persons"], average["total_days"], average["average"]) == (1, 5, "5.00")
    assert average["evaluation_month"] == "2022-03"
    assert average["rolling_average"] == "4.00" and average["level"] == "3.5"
    assert average["payment_applies"] is True
    assert average["amount"] == report["total_amount"] == "13950.00"

    single = (await client.get(f"/api/v1/episodes/{april_episode['id']}/liability")).json()
    assert single["model"] == "average" and single["rule_set_id"] == "se-average-stockholm"

    # The municipality sees its own report; another region sees none of VGR's figures.
    own = await client_for(municipality)
    assert (await own.get(f"/api/v1/liability/reports/{municipality}/2022-04")).json()[
        "averages"
    ] == report["averages"]
    other_region = await client_for("region-norrbotten")
    foreign = (await other_region.get(f"/api/v1/liability/reports/{municipality}/2022-04")).json()
    assert foreign["rows"] == [] and foreign["averages"] == []
    unrelated = await client_for("kommun-2580")
    assert (
        await unrelated.get(f"/api/v1/liability/reports/{municipality}/2022-04")
    ).status_code == 404


async def test_rule_sets_are_listed(client: httpx.AsyncClient) -> None:
    listing = (await client.get("/api/v1/liability/rule-sets")).json()
    ids = {r["id"] for r in listing["rule_sets"]}
    assert {
        "se-statutory-somatic",
        "se-statutory-psychiatric",
        "no-statutory",
        "se-average-stockholm",
    } <= ids
    assert any(b.get("region") == "region-vgr" for b in listing["bindings"])


async def test_report_refuses_bad_month_and_non_municipality(client: httpx.AsyncClient) -> None:
    bad = await client.get("/api/v1/liability/reports/kommun-2582/2026-13")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "month"
    shape = await client.get("/api/v1/liability/reports/kommun-2582/March")
    assert shape.status_code == 422
    region = await client.get("/api/v1/liability/reports/region-norrbotten/2022-03")
    assert region.status_code == 404
