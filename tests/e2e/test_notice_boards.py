"""Notice boards: the boards of a region and its cooperation areas, bulletins with validity, who
reads and who posts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.conftest import ClientFor


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_a_region_and_its_municipalities_share_a_board(
    client_for: ClientFor, now: datetime
) -> None:
    region = await client_for("region-norrbotten-sunderby-med")  # a unit of the region
    lulea = await client_for("kommun-2580-hemtjanst")  # a unit of Luleå kommun
    kalmar = await client_for("kommun-0880")  # another county
    boards = {b["id"]: b for b in ok(await lulea.get("/api/v1/notice-boards"))}
    assert "region-norrbotten" in boards and boards["region-norrbotten"]["kind"] == "region"
    areas = [b for b in boards.values() if b["kind"] == "cooperation-area"]
    assert areas and all("kommun-2580" in b["members"] for b in areas)
    assert "region-norrbotten" not in {
        b["id"] for b in ok(await kalmar.get("/api/v1/notice-boards"))
    }

    path = "/api/v1/notice-boards/region-norrbotten/bulletins"
    outage = ok(
        await region.post(
            path,
            json={
                "title": "Driftstörning",
                "text": "Journalsystemet är nere 18-20.",
                "category": "outage",
                "valid_until": (now + timedelta(hours=2)).isoformat(),
            },
        ),
        201,
    )
    later = ok(
        await lulea.post(
            path,
            json={
                "title": "Ny rutin för hemgång",
                "text": "Gäller från måndag.",
                "category": "routine",
                "valid_from": (now + timedelta(days=3)).isoformat(),
            },
        ),
        201,
    )
    shown = ok(await lulea.get(path))["items"]
    assert [b["id"] for b in shown] == [outage["id"]]
    every = ok(await region.get(path, params={"shown": "all"}))["items"]
    assert {b["id"] for b in every} == {outage["id"], later["id"]}
    # Another county's municipality does not see the board at all.
    assert (await kalmar.get(path)).status_code == 404
    assert (await kalmar.post(path, json={"title": "x", "text": "y"})).status_code == 404

    # Only the posting principal withdraws; once withdrawn it is off the board.
    withdrawal = f"{path}/{outage['id']}/withdrawal"
    assert (await lulea.post(withdrawal, json={})).status_code == 403
    taken = ok(await region.post(withdrawal, json={}))
    assert taken["withdrawn_at"] is not None
    assert ok(await lulea.get(path))["items"] == []
    assert (await region.post(withdrawal, json={})).status_code == 409


async def test_bulletins_refuse_what_is_wrong(client_for: ClientFor, now: datetime) -> None:
    lulea = await client_for("kommun-2580")
    path = "/api/v1/notice-boards/region-norrbotten/bulletins"
    cases = [
        ({"title": "", "text": "y"}, "title"),
        ({"title": "x", "text": "y", "category": "gossip"}, "category"),
        (
            {
                "title": "x",
                "text": "y",
                "valid_from": (now + timedelta(days=2)).isoformat(),
                "valid_until": (now + timedelta(days=1)).isoformat(),
            },
            "valid_until",
        ),
        (
            {"title": "x", "text": "y", "valid_until": (now - timedelta(days=1)).isoformat()},
            "valid_until",
        ),
    ]
    # A time without a UTC offset names no instant: refused, not guessed.
    cases.append(({"title": "x", "text": "y", "valid_until": "2030-01-01T10:00:00"}, "valid_until"))
    cases.append(({"title": "x", "text": "y", "valid_from": "2030-01-01T10:00:00"}, "valid_from"))
    for body, field in cases:
        refused = await lulea.post(path, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert field in refused.text, refused.text
    assert (await lulea.get("/api/v1/notice-boards/no-such-board/bulletins")).status_code == 404
    assert ok(await lulea.get(path, params={"shown": "all"}))["items"] == []
