"""The discharge flow over the REST API: notices, illegal steps, readmissions, versions."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from tests.conftest import ClientFor
from tests.factories import admit, create_person, notice

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def test_full_flow_moves_through_every_state(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient
) -> None:
    person = await create_person(client)
    episode = await admit(
        client, person["id"], T0, primary_care_unit_id="region-norrbotten-hc-lulea"
    )
    assert episode["state"] == "admitted"
    assert episode["municipality_id"] == "kommun-2580"
    assert episode["region_id"] == "region-norrbotten"
    assert episode["care_type"] == "somatic"

    steps = [
        ("admission-notice", T0 + timedelta(hours=2), {}, "planning"),
        (
            "expected-discharge",
            T0 + timedelta(hours=3),
            {"expected_discharge_date": "2026-03-06"},
            "planning",
        ),
        ("discharge-ready", T0 + timedelta(days=3), {}, "discharge-ready"),
        ("withdrawal", T0 + timedelta(days=4), {}, "planning"),
        ("discharge-ready", T0 + timedelta(days=5), {}, "discharge-ready"),
        (
            "municipality-response",
            T0 + timedelta(days=5, hours=2),
            {"can_receive_from": "2026-03-09"},
            "discharge-ready",
        ),
        ("discharge", T0 + timedelta(days=7), {}, "discharged"),
    ]
    for kind, at, extra, state in steps:
        # the hospital sends every notice but the municipality's answer
        sender = municipality if kind == "municipality-response" else client
        response = await notice(sender, episode["id"], kind, at, **extra)
        assert response.status_code == 200, (kind, response.text)
        assert response.json()["state"] == state, kind

    read = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    assert [e["kind"] for e in read["events"]] == [
        "admission-notice",
        "expected-discharge-changed",
        "discharge-ready",
        "discharge-ready-withdrawn",
        "discharge-ready",
        "municipality-response",
        "discharge-notice",
    ]
    assert read["expected_discharge_date"] == "2026-03-06"
    assert read["discharge_ready_since"] == (T0 + timedelta(days=5)).isoformat().replace(
        "+00:00", "Z"
    )
    assert read["version"] == 8


async def test_discharge_ready_before_admission_notice_is_refused_with_reason(
    client: httpx.AsyncClient,
) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    response = await notice(client, episode["id"], "discharge-ready", T0 + timedelta(hours=1))
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "no admission notice has been sent" in response.json()["detail"]
    read = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    assert read["state"] == "admitted" and read["events"] == []


async def test_second_discharge_is_refused(client: httpx.AsyncClient) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    assert (
        await notice(client, episode["id"], "discharge", T0 + timedelta(days=1))
    ).status_code == 200
    again = await notice(client, episode["id"], "discharge", T0 + timedelta(days=2))
    assert again.status_code == 409
    assert "already discharged" in again.json()["detail"]
    read = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    assert len(read["events"]) == 1


async def test_withdrawal_without_discharge_ready_is_refused(client: httpx.AsyncClient) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    await notice(client, episode["id"], "admission-notice", T0 + timedelta(hours=1))
    response = await notice(client, episode["id"], "withdrawal", T0 + timedelta(hours=2))
    assert response.status_code == 409
    assert "not discharge-ready" in response.json()["detail"]


async def test_notice_before_previous_notice_is_refused(client: httpx.AsyncClient) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    await notice(client, episode["id"], "admission-notice", T0 + timedelta(hours=5))
    response = await notice(client, episode["id"], "discharge-ready", T0 + timedelta(hours=4))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "at"


async def test_readmission_within_30_days_is_linked_and_marked(client: httpx.AsyncClient) -> None:
    person = await create_person(client)
    first = await admit(client, person["id"], T0)
    await notice(client, first["id"], "discharge", T0 + timedelta(days=2))
    second = await admit(client, person["id"], T0 + timedelta(days=31, hours=23))
    assert second["readmission_of_id"] == first["id"]
    assert second["is_readmission"] is True
    # discharged 2026-03-04 08:00; an admission more than 30 days later is not a readmission
    await notice(client, second["id"], "discharge", T0 + timedelta(days=33))
    third = await admit(client, person["id"], T0 + timedelta(days=64))
    assert third["readmission_of_id"] is None
    assert third["is_readmission"] is False


async def test_stale_if_match_gets_412(client: httpx.AsyncClient) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    assert episode["version"] == 1
    ok = await client.post(
        f"/api/v1/episodes/{episode['id']}/admission-notice",
        json={"at": (T0 + timedelta(hours=1)).isoformat()},
        headers={"If-Match": 'W/"1"'},
    )
    assert ok.status_code == 200 and ok.headers["etag"] == 'W/"2"'
    stale = await client.post(
        f"/api/v1/episodes/{episode['id']}/expected-discharge",
        json={"expected_discharge_date": "2026-03-08"},
        headers={"If-Match": 'W/"1"'},
    )
    assert stale.status_code == 412
    read = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    assert read["expected_discharge_date"] is None and read["version"] == 2


@pytest.mark.committing
async def test_two_concurrent_notices_one_wins(client: httpx.AsyncClient) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    await notice(client, episode["id"], "admission-notice", T0 + timedelta(hours=1))
    results = await asyncio.gather(
        *[
            notice(client, episode["id"], "discharge-ready", T0 + timedelta(days=1))
            for _ in range(2)
        ]
    )
    codes = sorted(r.status_code for r in results)
    # the loser either saw the winner's state (409) or lost the compare-and-set (412)
    assert codes[0] == 200 and codes[1] in (409, 412), [r.text for r in results]
    read = (await client.get(f"/api/v1/episodes/{episode['id']}")).json()
    assert [e["kind"] for e in read["events"]] == ["admission-notice", "discharge-ready"]


async def test_norwegian_person_is_received_by_municipality_of_stay(
    client_for: ClientFor,
) -> None:
    stavanger = await client_for("helse-stavanger")
    person = await create_person(
        stavanger, municipality="kommune-1120", country="NO", stay_municipality_id="kommune-1121"
    )
    episode = await admit(stavanger, person["id"], T0, unit="helse-stavanger-sus-med")
    assert episode["municipality_id"] == "kommune-1121"
    assert episode["jurisdiction"] == "NO"


async def test_lists_filter_by_state_and_paginate_without_gaps(client: httpx.AsyncClient) -> None:
    person = await create_person(client)
    ids = set()
    for day in range(5):
        episode = await admit(client, person["id"], T0 - timedelta(days=60 - day * 10))
        await notice(client, episode["id"], "discharge", T0 - timedelta(days=60 - day * 10 - 1))
        ids.add(episode["id"])
    seen: list[str] = []
    url: str | None = f"/api/v1/episodes?person_id={person['id']}&limit=2"
    while url:
        page = (await client.get(url)).json()
        seen += [e["id"] for e in page["items"]]
        url = page["next"]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    none = (
        await client.get(f"/api/v1/episodes?person_id={person['id']}&state=discharge-ready")
    ).json()
    assert none["items"] == []


async def test_expected_discharge_before_admission_is_refused(client: httpx.AsyncClient) -> None:
    person = await create_person(client)
    episode = await admit(client, person["id"], T0)
    response = await notice(
        client,
        episode["id"],
        "expected-discharge",
        expected_discharge_date=(date(2026, 2, 1)).isoformat(),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expected_discharge_date"
