"""The discharge-ready list of a municipality, paged by its cursor, walks every episode it holds
exactly once and in id order, whatever the page size (issue 20: the list is a keyset walk of
the index on (municipality, state, id) that stops at the page's end, with the party check per
row; a statement built once per shape binds the cursor, so a wrong binding would skip or repeat
episodes here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ClientFor
from tests.factories import admit, create_person, notice

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LIST = "/api/v1/episodes?municipality_id=kommun-2580&state=discharge-ready"


async def _sent(client: httpx.AsyncClient, episode_id: str, kind: str, at: datetime) -> None:
    response = await notice(client, episode_id, kind, at)
    assert response.status_code == 200, (kind, response.text)


async def _episodes(hospital: httpx.AsyncClient) -> tuple[list[str], list[str]]:
    """Seven episodes received by Luleå: five discharge-ready, two still in planning; and one
    discharge-ready episode of Boden, which Luleå's list must not show."""
    ready, planning = [], []
    for index in range(8):
        person = await create_person(hospital)
        at = T0 + timedelta(days=index)
        municipality = "kommun-2582" if index == 7 else "kommun-2580"
        episode = await admit(hospital, person["id"], at, municipality_id=municipality)
        await _sent(hospital, episode["id"], "admission-notice", at + timedelta(hours=1))
        if index in (2, 5):
            planning.append(episode["id"])
            continue
        await _sent(hospital, episode["id"], "discharge-ready", at + timedelta(days=1))
        if municipality == "kommun-2580":
            ready.append(episode["id"])
    return ready, planning


async def _walk(viewer: httpx.AsyncClient, limit: int) -> list[dict[str, Any]]:
    """Every item of the list, page by page (``limit`` a page), following ``next``."""
    items: list[dict[str, Any]] = []
    url: str | None = f"{LIST}&limit={limit}"
    while url is not None:
        # A cursor that does not move on would page for ever: fewer pages than items, plus one.
        assert len(items) <= 20, "the list pages past every episode it holds"
        response = await viewer.get(url)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        assert (page["next"] is None) == (page["next_cursor"] is None)
        if page["next_cursor"] is not None:
            # A page with a next one is full, and the cursor is its last episode.
            assert len(page["items"]) == limit
            assert page["next_cursor"] == page["items"][-1]["id"]
        items += page["items"]
        url = page["next"]
    return items


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
async def test_the_discharge_ready_list_walks_each_episode_once_in_order(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, limit: int
) -> None:
    ready, planning = await _episodes(client)
    items = await _walk(municipality, limit)
    ids = [item["id"] for item in items]
    # Strictly increasing: in id order, none twice.
    assert ids == sorted(set(ids))
    assert {item["state"] for item in items} == {"discharge-ready"}
    assert {item["municipality_id"] for item in items} == {"kommun-2580"}
    ours = set(ready) | set(planning)
    assert [i for i in ids if i in ours] == sorted(ready)


async def test_a_caller_that_is_no_party_walks_an_empty_list(
    client: httpx.AsyncClient, municipality: httpx.AsyncClient, client_for: ClientFor
) -> None:
    ready, _planning = await _episodes(client)
    # Luleå walks its list first: the statement kept for a principal's reach is then the one
    # the stranger's list runs, and only its bound values may differ.
    assert {item["id"] for item in await _walk(municipality, 2)} >= set(ready)
    # Another region's system, of the same reach shape: a party to none of Luleå's episodes.
    stranger = await client_for("region-kalmar")
    listed = {item["id"] for item in await _walk(stranger, 2)}
    assert not listed & set(ready)
