"""The drill-down of the statistics (`GET /api/v1/statistics/{indicator}/records`), worked out
by hand on the scenario of `tests/e2e/test_statistics_hand_worked.py`.

Region Norrbotten is a party to every record of that scenario (its wards admitted every
episode and sent or received every message; it is shared every plan, organized or shares every
meeting's organizer's principal, and reports or handles every deviation), so for it the records
listed for a cell are exactly the records the cell counted: as many as its count, denominator, n
or episodes, with the numerator, strata, quantiles and liable days read back off them. A
municipality is not a party to the meetings the region's units organized with only the person
invited: it sees the figure, but no record behind it.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx

from app.domain.statistics import BY_CODE, INDICATORS, Dimension, Kind, quantiles
from tests.conftest import ClientFor, Clock
from tests.e2e.test_statistics_hand_worked import (
    BODEN,
    LULEA,
    REGION,
    REGION_FIGURES,
    P,
    S,
    build,
)
from tests.factories import admit, create_person, notice

SERIES = {"from": "2022-10", "to": "2022-12"}
MONTHS = ("2022-10-01", "2022-11-01", "2022-12-01")
AREA = "area-luleaboden"
PRIMARY = {
    Kind.COUNT: "count",
    Kind.SHARE: "denominator",
    Kind.DISTRIBUTION: "n",
    Kind.AMOUNT: "episodes",
    Kind.STRATA: "count",
}


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def every_record(client: httpx.AsyncClient, code: str, **params: Any) -> list[dict[str, Any]]:
    """Every entry of a cell, following the pages two at a time."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = {**params, "limit": 2} | ({"cursor": cursor} if cursor else {})
        body = ok(await client.get(f"/api/v1/statistics/{code}/records", params=page))
        found += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def agrees(code: str, values: dict[str, Any], strata: dict[str, Any], items: list[Any]) -> None:
    """The entries make up the figure: its count, numerator, strata, quantiles and days."""
    item = BY_CODE[code]
    assert len(items) == values[PRIMARY[item.kind]], code
    if item.kind is Kind.SHARE:
        assert sum(1 for i in items if i["in_numerator"]) == values["numerator"], code
    if item.kind is Kind.DISTRIBUTION:
        histogram: dict[int, int] = {}
        for i in items:
            histogram[i["value"]] = histogram.get(i["value"], 0) + 1
        assert quantiles(histogram) == values, code
    if item.kind is Kind.AMOUNT:
        assert sum(i["value"] for i in items) == values["days"], code
    if item.kind is Kind.STRATA:
        for name, count in strata.items():
            assert sum(1 for i in items if i["stratum"] == name) == count, (code, name)
    for i in items:
        assert i["link"].endswith(f"/{i['id']}") and i["link"].startswith("/api/v1/")
        assert next(iter(i["instants"].values())) == i["at"]


async def test_every_cell_lists_what_it_counted_for_a_party_to_all_of_it(
    client_for: ClientFor, clock: Clock
) -> None:
    await build(client_for, clock)
    region = await client_for(REGION)
    figures = ok(await region.get("/api/v1/statistics", params=SERIES))
    quarter = ok(await region.get("/api/v1/statistics", params={"period": "2022-Q4"}))
    for months, whole in zip(figures["indicators"], quarter["indicators"], strict=True):
        code = months["code"]
        for figure in months["figures"]:
            params = {**SERIES, "period_start": figure["period_start"]}
            items = await every_record(region, code, **params)
            agrees(code, figure["values"], figure["strata"], items)
        [figure] = whole["figures"]
        agrees(
            code,
            figure["values"],
            figure["strata"],
            await every_record(region, code, period="2022-Q4"),
        )

    # Read by hand off the scenario: November's discharge-ready notices are E2's (twice, the
    # first at 00:30 on Nov 1 local time) and E3's; its discharges E1 (5 days), E2 (4), E3 (0).
    november = {"period": "2022-11"}
    ready = await every_record(region, "discharge-ready-notices", **november)
    assert [i["at"] for i in ready] == [
        "2022-10-31T23:30:00Z",
        "2022-11-04T08:00:00Z",
        "2022-11-12T10:00:00Z",
    ]
    assert ready[0]["id"] == ready[1]["id"] != ready[2]["id"]
    assert {i["unit_id"] for i in ready} == {P, S}
    days = await every_record(region, "days-ready-to-discharge", **november)
    assert [(i["value"], i["unit_id"]) for i in days] == [(5, S), (4, P), (0, S)]
    readmitted = await every_record(region, "readmissions-30-days", **november)
    [first] = [i for i in readmitted if i["in_numerator"]]
    assert first["id"] == days[0]["id"] and first["instants"]["readmitted_at"] == (
        "2022-11-20T10:00:00Z"
    )
    liable = await every_record(region, "liable-days", **november)
    assert sorted((i["id"], i["value"]) for i in liable) == sorted(
        [(days[0]["id"], 2), (days[1]["id"], 1)]
    )
    hours = await every_record(region, "deviation-hours-to-answer", period="2022-Q4")
    assert [(i["type"], i["value"], i["municipality_id"]) for i in hours] == [
        ("deviation", 5, LULEA),
        ("deviation", 26, LULEA),
    ]
    minutes = await every_record(region, "acknowledgement-minutes", period="2022-11")
    assert [(i["type"], i["value"], i["unit_id"]) for i in minutes] == [("message", 45, S)]
    held = await every_record(region, "meetings-held", period="2022-Q4")
    assert [i["type"] for i in held] == ["meeting"] * 3
    assert all(i["link"] == f"/api/v1/meetings/{i['id']}" for i in held)
    for i in held:  # each one reads
        assert (await region.get(i["link"])).status_code == 200


async def test_a_breakdown_cell_lists_its_group_s_records(
    client_for: ClientFor, clock: Clock
) -> None:
    await build(client_for, clock)
    region = await client_for(REGION)
    by_unit = [i.code for i in INDICATORS if Dimension.UNIT in i.dimensions]
    body = ok(
        await region.get(
            "/api/v1/statistics", params={"period": "2022-11", "by": "unit", "indicator": by_unit}
        )
    )
    for item in body["indicators"]:
        for figure in item["figures"]:
            params = {"period": "2022-11", "by": "unit", "group": figure["group"]}
            items = await every_record(region, item["code"], **params)
            agrees(item["code"], figure["values"], figure["strata"], items)
            assert {i["unit_id"] for i in items} <= {figure["group"]}

    # By municipality the region's figures are shared and masked; its records of Luleå are
    # the ones Luleå's own (unmasked) figures count, and those of the area are both's.
    by_municipality = [i.code for i in INDICATORS if Dimension.MUNICIPALITY in i.dimensions]
    for code in by_municipality:
        own = {}
        for municipality in (LULEA, BODEN):
            client = await client_for(municipality)
            [figure] = ok(
                await client.get(
                    "/api/v1/statistics", params={"period": "2022-Q4", "indicator": code}
                )
            )["indicators"][0]["figures"]
            items = await every_record(
                region, code, period="2022-Q4", by="municipality", group=municipality
            )
            agrees(code, figure["values"], figure["strata"], items)
            assert {i["municipality_id"] for i in items} <= {municipality}
            own[municipality] = items
        area = await every_record(region, code, period="2022-Q4", by="area", group=AREA)
        assert sorted(i["at"] for i in area) == sorted(i["at"] for i in own[LULEA] + own[BODEN])
    quarter = REGION_FIGURES["admissions-notified"][3][0]["count"]
    assert len(await every_record(region, "admissions-notified", period="2022-Q4")) == quarter


async def test_only_the_caller_s_own_records_and_nothing_about_the_others(
    client_for: ClientFor, clock: Clock
) -> None:
    await build(client_for, clock)
    lulea = await client_for(LULEA)
    # Luleå's figure counts M1 and M2, held in November, but the region's units organized them
    # with only the person invited: Luleå is no party, and the list says nothing of them.
    [figure] = ok(
        await lulea.get(
            "/api/v1/statistics", params={"period": "2022-11", "indicator": "meetings-held"}
        )
    )["indicators"][0]["figures"]
    assert figure["values"] == {"count": 2}
    body = ok(
        await lulea.get("/api/v1/statistics/meetings-held/records", params={"period": "2022-11"})
    )
    assert body["items"] == [] and body["next_cursor"] is None
    assert set(body) == {
        "indicator", "period", "period_start", "period_end", "by", "group", "subject",
        "access", "items", "next_cursor", "next",
    }  # fmt: skip
    assert "party" in body["access"]

    # The area's figures are masked (under 5); Luleå's drill-down of the area lists its own
    # records only: its episodes, not Boden's.
    params = {"period": "2022-Q4", "area": AREA, "indicator": "admissions-notified"}
    [masked] = ok(await lulea.get("/api/v1/statistics", params=params))["indicators"][0]["figures"]
    assert masked["values"] == {"count": None}
    del params["indicator"]
    items = await every_record(lulea, "admissions-notified", **params)
    assert len(items) == 3 and {i["municipality_id"] for i in items} == {LULEA}
    boden = await client_for(BODEN)
    theirs = await every_record(boden, "admissions-notified", **params)
    assert len(theirs) == 1 and {i["municipality_id"] for i in theirs} == {BODEN}

    # A unit of Luleå sees only its unit's records: the home care sent C2, not Boden's C3.
    home_care = await client_for(f"{LULEA}-hemtjanst")
    sent = await every_record(home_care, "care-messages", period="2022-Q4")
    assert [(i["type"], i["unit_id"]) for i in sent] == [("message", f"{LULEA}-hemtjanst")]


async def test_protected_identities_are_never_named_and_every_record_listed_is_logged(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    plain = await create_person(client, municipality=BODEN)
    hidden = await create_person(client, municipality=BODEN, protected_identity=True)
    ids = {}
    for person, hour in ((plain, 8), (hidden, 9)):
        episode = await admit(client, person["id"], datetime(2022, 3, 2, hour, tzinfo=UTC), unit=S)
        sent = datetime(2022, 3, 2, hour, 30, tzinfo=UTC)
        assert (await notice(client, episode["id"], "admission-notice", sent)).status_code == 200
        ids[person["id"]] = episode["id"]
    body = ok(
        await client.get(
            "/api/v1/statistics/admissions-notified/records",
            params={"period": "2022-03"},
            headers={"X-Request-ID": "drill-down-1"},
        )
    )
    assert [(i["id"], i["person_id"]) for i in body["items"]] == [
        (ids[plain["id"]], plain["id"]),
        (ids[hidden["id"]], None),
    ]
    as_csv = await client.get(
        "/api/v1/statistics/admissions-notified/records",
        params={"period": "2022-03"},
        headers={"Accept": "text/csv"},
    )
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["id"], r["person_id"], r["sent_at"]) for r in rows] == [
        (ids[plain["id"]], plain["id"], "2022-03-02T08:30:00+00:00"),
        (ids[hidden["id"]], "", "2022-03-02T09:30:00+00:00"),
    ]
    assert hidden["id"] not in as_csv.text

    # Both listed records are in the log as searched, with their persons: the person's log
    # shows that the record was listed, protected identity or not.
    for person in (plain, hidden):
        params = {"person_id": person["id"], "limit": 100}
        log = ok(await client.get("/api/v1/access-log", params=params))["items"]
        ours = [e for e in log if e["request_id"] == "drill-down-1"]
        assert [(e["action"], e["resource_type"], e["resource_id"]) for e in ours] == [
            ("search", "Encounter", ids[person["id"]])
        ]


async def test_pages_follow_the_cursor_and_csv_gives_the_next_page_as_a_link(
    client_for: ClientFor, clock: Clock
) -> None:
    await build(client_for, clock)
    region = await client_for(REGION)
    path = "/api/v1/statistics/discharge-ready-notices/records"
    whole = ok(await region.get(path, params={"period": "2022-Q4"}))["items"]
    assert len(whole) == 4 and [i["at"] for i in whole] == sorted(i["at"] for i in whole)
    first = ok(await region.get(path, params={"period": "2022-Q4", "limit": 3}))
    assert first["items"] == whole[:3] and first["next"] and "cursor=" in first["next"]
    rest = ok(await region.get(first["next"]))
    assert rest["items"] == whole[3:] and rest["next_cursor"] is None
    as_csv = await region.get(
        path, params={"period": "2022-Q4", "limit": 3}, headers={"Accept": "text/csv"}
    )
    assert as_csv.status_code == 200
    assert 'rel="next"' in as_csv.headers["link"] and "cursor=" in as_csv.headers["link"]
    assert len(list(csv.DictReader(io.StringIO(as_csv.text)))) == 3


async def test_bad_input_names_the_parameter(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    path = "/api/v1/statistics/{}/records"
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("bed-days", {"period": "2026"}, 422, "indicator"),
        ("care-messages", {"period": "2026-W12"}, 422, "period"),
        ("care-messages", {"from": "2026-05", "to": "2026-02"}, 422, "from"),
        ("care-messages", {"from": "2010", "to": "2026"}, 422, "to"),
        ("care-messages", {}, 422, "from"),
        ("care-messages", {"from": "2026-01", "to": "2026-03"}, 422, "period_start"),
        ("care-messages", {**SERIES, "period_start": "2022-10-02"}, 422, "period_start"),
        ("care-messages", {"period": "2026", "period_start": "1 March"}, 422, "period_start"),
        ("care-messages", {"period": "2026", "group": S}, 422, "group"),
        ("care-messages", {"period": "2026", "by": "unit"}, 422, "group"),
        ("care-messages", {"period": "2026", "by": "municipality", "group": LULEA}, 422, "by"),
        ("care-messages", {"period": "2026", "area": AREA}, 422, "area"),
        ("care-messages", {"period": "2026", "cursor": "not-a-cursor"}, 422, "cursor"),
        ("plans-started", {"period": "2026", "organization": S}, 422, "organization"),
        ("care-messages", {"period": "2026", "area": "area-nowhere"}, 404, "area"),
        ("care-messages", {"period": "2026", "organization": "kommun-0880"}, 404, "organization"),
    ]
    for code, params, status, field in cases:
        response = await client.get(path.format(code), params=params)
        assert response.status_code == status, (code, params, response.text)
        fields = [e.get("field") for e in response.json().get("errors", [])]
        assert field in fields, (code, params, response.json())

    # An area the caller is no member of answers exactly as one that does not exist.
    boden = await client_for(BODEN)
    foreign = await boden.get(
        path.format("admissions-notified"), params={"period": "2026", "area": "area-kalmar-lan"}
    )
    missing = await boden.get(
        path.format("admissions-notified"), params={"period": "2026", "area": "area-nowhere"}
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"].replace("area-kalmar-lan", "X") == missing.json()[
        "detail"
    ].replace("area-nowhere", "X")
