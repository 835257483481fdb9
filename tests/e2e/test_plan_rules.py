"""Rules of plans and meetings over HTTP: versions, consent, organizers, deadlines, follow-ups."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ClientFor
from tests.e2e.test_plan_scenarios import ok, register
from tests.factories import admit, consent, notice


async def shared_plan(http: httpx.AsyncClient, person_id: str, **content: Any) -> dict[str, Any]:
    """A draft plan of the health centre, shared with Region Kalmar and Kalmar kommun (the
    consent given at the call)."""
    plan = ok(
        await http.post("/api/v1/plans", json={"person_id": person_id, "title": "SIP", **content}),
        201,
    )
    return await consent(http, plan["id"], ["region-kalmar", "kommun-0880"], datetime.now(UTC))


def summons(plan_id: str, participants: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A summons to a meeting five days after the call, to be answered the day before."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    return {
        "plan_id": plan_id,
        "starts_at": starts.isoformat(),
        "reply_by": (starts.date() - timedelta(days=1)).isoformat(),
        "location": "Vårdcentralen",
        "participants": participants,
        **extra,
    }


@pytest.mark.committing
async def test_two_writers_of_one_version_one_wins_the_other_gets_412(
    client_for: ClientFor,
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    municipality = await client_for("kommun-0880")
    person = await register(centre, "Samtidig", date(1950, 1, 1))
    plan = await shared_plan(centre, person["id"])
    tag = {"If-Match": f'W/"{plan["version"]}"'}
    results = await asyncio.gather(
        centre.put(f"/api/v1/plans/{plan['id']}", json={"title": "A"}, headers=tag),
        municipality.put(f"/api/v1/plans/{plan['id']}", json={"title": "B"}, headers=tag),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 412], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()
    current = ok(await centre.get(f"/api/v1/plans/{plan['id']}"))
    assert (current["title"], current["version"]) == (winner["title"], plan["version"] + 1)
    versions = ok(await centre.get(f"/api/v1/plans/{plan['id']}/versions"))
    assert [v["version"] for v in versions] == [1, 2, 3]


async def test_a_revision_must_name_its_version(client_for: ClientFor) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Version", date(1950, 1, 2))
    plan = await shared_plan(centre, person["id"])
    missing = await centre.put(f"/api/v1/plans/{plan['id']}", json={"title": "X"})
    assert missing.status_code == 428 and "If-Match" in missing.json()["detail"]
    stale = await centre.put(
        f"/api/v1/plans/{plan['id']}", json={"title": "X"}, headers={"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    stale_consent = await centre.post(
        f"/api/v1/plans/{plan['id']}/activate", json={}, headers={"If-Match": 'W/"1"'}
    )
    assert stale_consent.status_code == 412
    assert ok(await centre.get(f"/api/v1/plans/{plan['id']}"))["version"] == plan["version"]


async def test_only_consented_principals_can_be_summoned(client_for: ClientFor) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Samtycke", date(1950, 1, 3))
    plan = await shared_plan(centre, person["id"])
    outside = await centre.post(
        "/api/v1/meetings",
        json=summons(
            plan["id"], [{"id": "x", "kind": "unit", "organization_id": "kommun-0861-hemtjanst"}]
        ),
    )
    assert outside.status_code == 422
    assert outside.json()["errors"][0]["field"] == "participants[0].organization_id"
    assert "kommun-0861" in outside.json()["detail"]
    neither = await centre.post(
        "/api/v1/meetings",
        json={**summons(plan["id"], [{"id": "p", "kind": "person"}]), "location": None},
    )
    assert neither.status_code == 422 and neither.json()["errors"][0]["field"] == "location"
    both = await centre.post(
        "/api/v1/meetings",
        json={**summons(plan["id"], [{"id": "p", "kind": "person"}]), "episode_id": plan["id"]},
    )
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "plan_id"


async def test_only_the_organizer_moves_or_cancels_and_units_answer_for_themselves(
    client_for: ClientFor,
    now: datetime,
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    municipality = await client_for("kommun-0880")
    person = await register(centre, "Arrangör", date(1950, 1, 4))
    plan = await shared_plan(centre, person["id"])
    meeting = ok(
        await centre.post(
            "/api/v1/meetings",
            json=summons(
                plan["id"],
                [
                    {"id": "hsv", "kind": "unit", "organization_id": "kommun-0880-hemsjukvard"},
                    {"id": "me", "kind": "person"},
                ],
            ),
        ),
        201,
    )
    later = now + timedelta(days=8)
    moved = await municipality.post(
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={"starts_at": later.isoformat(), "reply_by": later.date().isoformat()},
    )
    assert moved.status_code == 403 and "organizer" in moved.json()["detail"]
    cancelled = await municipality.post(
        f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "x"}
    )
    assert cancelled.status_code == 403
    for_another = await centre.post(
        f"/api/v1/meetings/{meeting['id']}/replies",
        json={"participant_id": "hsv", "reply": "accepted"},
    )
    assert for_another.status_code == 403
    stale = await municipality.post(
        f"/api/v1/meetings/{meeting['id']}/replies",
        json={"participant_id": "hsv", "reply": "accepted"},
        headers={"If-Match": 'W/"7"'},
    )
    assert stale.status_code == 412
    ok(
        await municipality.post(
            f"/api/v1/meetings/{meeting['id']}/replies",
            json={"participant_id": "hsv", "reply": "declined", "reason": "Personalbrist"},
        )
    )
    meeting = ok(
        await centre.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "Sjuk"})
    )
    assert (meeting["status"], meeting["cancel_reason"]) == ("cancelled", "Sjuk")
    listed = ok(await municipality.get("/api/v1/meetings", params={"plan_id": plan["id"]}))
    assert [m["id"] for m in listed["items"]] == [meeting["id"]]


async def test_a_missed_summons_deadline_is_listed_as_breached(
    client_for: ClientFor, now: datetime
) -> None:
    hospital = await client_for("region-kalmar")
    municipality = await client_for("kommun-0880")
    person = await register(hospital, "Frist", date(1950, 1, 5))
    episode = await admit(
        hospital,
        person["id"],
        now - timedelta(days=12),
        unit="region-kalmar-lanssjukhuset-med",
        primary_care_unit_id="region-kalmar-hc-kalmar",
    )
    sent = await notice(hospital, episode["id"], "admission-notice", now - timedelta(days=11))
    assert sent.status_code == 200
    ready = await notice(
        hospital,
        episode["id"],
        "discharge-ready",
        now - timedelta(days=6),
        coordinated_planning=True,
    )
    assert ready.status_code == 200, ready.text
    other = await register(hospital, "Utan", date(1950, 1, 6))
    plain = await admit(
        hospital, other["id"], now - timedelta(days=12), unit="region-kalmar-lanssjukhuset-med"
    )
    assert (await notice(hospital, plain["id"], "admission-notice")).status_code == 200
    assert (await notice(hospital, plain["id"], "discharge-ready")).status_code == 200

    for http in (hospital, municipality):
        breached = ok(await http.get("/api/v1/summons-deadlines", params={"status": "breached"}))
        mine = [d for d in breached if d["person_id"] in (person["id"], other["id"])]
        assert [d["episode_id"] for d in mine] == [episode["id"]]
        assert mine[0]["summons_sent_at"] is None
    stranger = await client_for("kommun-2580")
    seen = ok(await stranger.get("/api/v1/summons-deadlines"))
    assert all(d["person_id"] != person["id"] for d in seen)

    # A late summons following the episode turns the breach into 'late'.
    starts = now + timedelta(days=2)
    ok(
        await municipality.post(
            "/api/v1/meetings",
            json={
                "episode_id": episode["id"],
                "starts_at": starts.isoformat(),
                "reply_by": starts.date().isoformat(),
                "location": "Länssjukhuset",
                "participants": [
                    {
                        "id": "ward",
                        "kind": "unit",
                        "organization_id": "region-kalmar-lanssjukhuset-med",
                    }
                ],
            },
        ),
        201,
    )
    late = ok(await hospital.get("/api/v1/summons-deadlines", params={"status": "late"}))
    assert [d["episode_id"] for d in late if d["person_id"] == person["id"]] == [episode["id"]]
    # Someone outside the person's care cannot be summoned to an episode's meeting.
    outsider = await municipality.post(
        "/api/v1/meetings",
        json={
            "episode_id": episode["id"],
            "starts_at": starts.isoformat(),
            "reply_by": starts.date().isoformat(),
            "location": "Länssjukhuset",
            "participants": [
                {"id": "far", "kind": "unit", "organization_id": "kommun-2580-hemtjanst"}
            ],
        },
    )
    assert outsider.status_code == 422 and "kommun-2580-hemtjanst" in outsider.json()["detail"]


async def test_overdue_follow_ups_are_listed_until_a_meeting_is_held(
    client_for: ClientFor,
    now: datetime,
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    municipality = await client_for("kommun-0880")
    person = await register(centre, "Uppföljning", date(1950, 1, 7))
    start = now.date() - timedelta(days=100)
    plan = await shared_plan(
        centre,
        person["id"],
        goals=[{"id": "g", "description": "Mål"}],
        interventions=[
            {"id": "i", "description": "Insats", "responsible_unit_id": "kommun-0880-hemtjanst"}
        ],
        responsible_principal_id="kommun-0880",
        coordinator={"name": "Samordnare", "unit_id": "kommun-0880-hemtjanst"},
        start_date=start.isoformat(),
        follow_up_dates=[(start + timedelta(days=60)).isoformat()],
    )
    ok(await centre.post(f"/api/v1/plans/{plan['id']}/activate", json={}))
    overdue = ok(await municipality.get("/api/v1/plans/overdue-follow-ups"))
    mine = [o for o in overdue if o["plan_id"] == plan["id"]]
    assert [(o["days_overdue"], o["responsible_principal_id"]) for o in mine] == [
        (40, "kommun-0880")
    ]
    assert mine[0]["coordinator"]["name"] == "Samordnare"
    by_other = ok(
        await municipality.get(
            "/api/v1/plans/overdue-follow-ups", params={"responsible_principal_id": "region-kalmar"}
        )
    )
    assert all(o["plan_id"] != plan["id"] for o in by_other)
    meeting = ok(
        await centre.post(
            "/api/v1/meetings",
            json=summons(
                plan["id"],
                [{"id": "u", "kind": "unit", "organization_id": "kommun-0880-hemtjanst"}],
            ),
        ),
        201,
    )
    # A meeting summoned for next week does not answer a follow-up date that has passed.
    summoned = ok(await municipality.get("/api/v1/plans/overdue-follow-ups"))
    assert [o["days_overdue"] for o in summoned if o["plan_id"] == plan["id"]] == [40]
    # Held early (the summons time is ahead), it does: held_at is when it took place.
    early = await centre.post(f"/api/v1/meetings/{meeting['id']}/held", json={"attended": ["u"]})
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "held_at"
    held_at = datetime.now(UTC)
    ok(
        await centre.post(
            f"/api/v1/meetings/{meeting['id']}/held",
            json={"attended": ["u"], "held_at": held_at.isoformat(), "minutes": "Uppföljt."},
        )
    )
    after = ok(await municipality.get("/api/v1/plans/overdue-follow-ups"))
    assert all(o["plan_id"] != plan["id"] for o in after)


async def test_a_plan_needs_a_person_that_exists_and_principals_that_exist(
    client_for: ClientFor,
    now: datetime,
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(centre, "Okänd", date(1950, 1, 8))
    unknown = await centre.post(
        "/api/v1/plans", json={"person_id": str(uuid.uuid4()), "title": "x"}
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "person_id"
    bad_unit = await centre.post(
        "/api/v1/plans",
        json={
            "person_id": person["id"],
            "title": "x",
            "interventions": [{"id": "i", "description": "x", "responsible_unit_id": "nowhere"}],
        },
    )
    assert bad_unit.status_code == 422
    assert bad_unit.json()["errors"][0]["field"] == "interventions[0].responsible_unit_id"
    unit_as_principal = await centre.post(
        "/api/v1/plans",
        json={
            "person_id": person["id"],
            "title": "x",
            "responsible_principal_id": "kommun-0880-hemtjanst",
        },
    )
    assert unit_as_principal.status_code == 422
    plan = await shared_plan(centre, person["id"])
    unit_consent = await centre.post(
        f"/api/v1/plans/{plan['id']}/consents",
        json={
            "given_by": "person",
            "given_at": now.isoformat(),
            "method": "oral",
            "share_with": ["kommun-0880-hemtjanst"],
        },
    )
    assert unit_consent.status_code == 422
    assert unit_consent.json()["errors"][0]["field"] == "share_with[0]"
    representative = await centre.post(
        f"/api/v1/plans/{plan['id']}/consents",
        json={
            "given_by": "legal-representative",
            "given_at": now.isoformat(),
            "method": "written",
            "share_with": ["kommun-0880"],
        },
    )
    assert representative.status_code == 422
    cancel_without_reason = await centre.post(f"/api/v1/plans/{plan['id']}/cancel", json={})
    assert cancel_without_reason.status_code == 422


async def test_full_withdrawal_cancels_the_plan_and_ends_the_municipalitys_access(
    client_for: ClientFor,
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    municipality = await client_for("kommun-0880")
    person = await register(centre, "Återkallar", date(1950, 1, 9))
    plan = await shared_plan(centre, person["id"])
    assert (await municipality.get(f"/api/v1/persons/{person['id']}")).status_code == 200
    consent_id = plan["consents"][0]["id"]
    plan = ok(
        await centre.post(
            f"/api/v1/plans/{plan['id']}/consents/{consent_id}/withdrawal",
            json={"at": datetime.now(UTC).isoformat()},  # after the consent given by shared_plan
        )
    )
    assert plan["status"] == "cancelled" and "consent withdrawn" in plan["status_reason"]
    assert plan["shared_with"] == ["region-kalmar"]
    assert {w["principal_id"] for w in plan["sharing_withdrawn"]} == {"kommun-0880"}
    assert (await municipality.get(f"/api/v1/plans/{plan['id']}")).status_code == 404
    assert (await municipality.get(f"/api/v1/persons/{person['id']}")).status_code == 404
