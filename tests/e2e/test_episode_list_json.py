"""The episode list's JSON and an episode's read, built from the episodes without pydantic
(issue 20), are what the declared ``ListPage[EpisodeRead]`` and ``EpisodeRead`` make of them,
and each item of the list is what a read of that episode shows the same caller."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.api.v1.common import ListPage
from app.api.v1.episodes import EpisodeRead
from tests.conftest import ClientFor
from tests.factories import admit, create_person, notice

T0 = datetime(2026, 3, 2, 8, 0, 0, 250_000, tzinfo=UTC)
HOME_HEALTH = "kommun-2580-hemsjukvard"
PRIMARY_CARE = "region-norrbotten-hc-lulea"
PAGE = ListPage[EpisodeRead]


async def _sent(
    client: httpx.AsyncClient, episode_id: str, kind: str, at: datetime, **body: Any
) -> None:
    response = await notice(client, episode_id, kind, at, **body)
    assert response.status_code == 200, (kind, response.text)


async def _scenario(hospital: httpx.AsyncClient, municipality: httpx.AsyncClient) -> list[str]:
    """Episodes of Luleå in every state, three of a person with a protected identity, one with
    a document and a planning basis, one answered naming a unit, one whose services started and
    a readmission ten days after it."""
    plain = await create_person(hospital)
    protected = await create_person(hospital, protected_identity=True)
    episodes = []
    for index, (person, last, days) in enumerate(
        [
            (plain, None, 0),
            (protected, "admission-notice", 10),
            (plain, "discharge-ready", 40),
            (protected, "discharge-ready", 50),
            (plain, "municipality-response", 80),
            (plain, "services-started", 120),
            (protected, "withdrawal", 130),
            (plain, "discharge-ready", 134),
        ]
    ):
        at = T0 + timedelta(days=days)
        episode = await admit(
            hospital,
            person["id"],
            at,
            primary_care_unit_id=PRIMARY_CARE,
            municipality_id="kommun-2580",
            expected_discharge_date=(at + timedelta(days=5)).date().isoformat(),
        )
        episodes.append(episode["id"])
        if last is None:
            continue
        await _sent(hospital, episode["id"], "admission-notice", at + timedelta(hours=1))
        if last == "admission-notice":
            continue
        ready: dict[str, Any] = {"coordinated_planning": index % 2 == 0}
        if index == 2:
            ready["documents"] = [
                {
                    "type": "discharge-information",
                    "title": "Utskrivningsinformation",
                    "content_type": "text/plain",
                    "data": base64.b64encode("Åter hem, hemtjänst".encode()).decode(),
                }
            ]
            ready["planning_basis"] = {
                "answers": {
                    "functional-status": "some-help",
                    "current-home-services": True,
                    "current-home-services-description": "Hemtjänst morgon och kväll",
                    "aids": ["rollator", "duschpall"],
                    "cognitive-state": "mild",
                    "contact-name": "Anna Nilsson (dotter)",
                    "contact-phone": "070-1234567",
                    "expected-needs": "Hjälp med dusch",
                }
            }
        await _sent(hospital, episode["id"], "discharge-ready", at + timedelta(days=2), **ready)
        if last == "withdrawal":
            await _sent(hospital, episode["id"], "withdrawal", at + timedelta(days=3))
        if last in ("municipality-response", "services-started"):
            await _sent(
                municipality,
                episode["id"],
                "municipality-response",
                at + timedelta(days=2, hours=3),
                can_receive_from=(at + timedelta(days=4)).date().isoformat(),
                planned_services=["home-care", "home-health-care"],
                units=[HOME_HEALTH],
            )
        if last == "services-started":
            await _sent(hospital, episode["id"], "discharge", at + timedelta(days=4))
            await _sent(
                municipality,
                episode["id"],
                "services-started",
                at + timedelta(days=4, hours=6),
                arrived_at=(at + timedelta(days=4, hours=5)).isoformat(),
                services=["home-care"],
            )
    return episodes


async def _pages(viewer: httpx.AsyncClient, query: str) -> list[dict[str, Any]]:
    """Every page of the list, two episodes a page, followed by its ``next`` link."""
    pages = []
    url: str | None = f"/api/v1/episodes?{query}&limit=2"
    while url is not None:
        response = await viewer.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        pages.append(response.json())
        url = pages[-1]["next"]
    return pages


async def test_the_list_shows_what_the_declared_page_and_each_read_show(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, client_for: ClientFor
) -> None:
    ours = set(await _scenario(client, municipality))
    viewers = {
        "region": client,
        "municipality": municipality,
        "home health care": await client_for(HOME_HEALTH),
        "primary care": await client_for(PRIMARY_CARE),
    }
    queries = (
        "municipality_id=kommun-2580&state=discharge-ready",
        "municipality_id=kommun-2580",
        "hospital_unit_id=region-norrbotten-sunderby-med&state=planning",
    )
    seen_states: set[str] = set()
    readmitted = False
    for name, viewer in viewers.items():
        for query in queries:
            listed: list[dict[str, Any]] = []
            for page in await _pages(viewer, query):
                # What pydantic makes of the page under the declared model is the page itself.
                assert PAGE.model_validate(page).model_dump(mode="json") == page, (name, query)
                assert (page["next_cursor"] is None) == (page["next"] is None)
                listed += page["items"]
            assert len({e["id"] for e in listed}) == len(listed), (name, query)
            for item in listed:
                if item["id"] not in ours:
                    continue
                seen_states.add(item["state"])
                readmitted |= item["is_readmission"]
                read = await viewer.get(f"/api/v1/episodes/{item['id']}")
                assert read.status_code == 200, read.text
                assert read.headers["etag"] == f'W/"{item["version"]}"'
                # The read is built without pydantic too: it is what the declared model makes
                # of it, and what the list shows.
                shown = read.json()
                assert EpisodeRead.model_validate(shown).model_dump(mode="json") == shown
                assert item == shown, (name, query, item["id"])
    assert seen_states == {"admitted", "planning", "discharge-ready", "discharged"}
    assert readmitted


async def test_a_unit_lists_only_the_episodes_it_receives(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, client_for: ClientFor
) -> None:
    episodes = await _scenario(client, municipality)
    unit = await client_for(HOME_HEALTH)
    listed = [
        item["id"]
        for page in await _pages(unit, "municipality_id=kommun-2580")
        for item in page["items"]
    ]
    # The answers of the fifth and sixth named the unit; it is a party to those two only.
    assert [i for i in listed if i in episodes] == sorted(episodes[4:6])
