"""A child's plan after a hospital stay, over HTTP and FHIR: the plan names the episode it follows,
both guardians consent, take part in the meeting and answer the summons, and the meeting is
marked held with attendance and minutes, revising the plan (Kalmar's routine, slide 12: Ylva, 4).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from app.fhir.mappers.appointment import ATTENDED, HELD_AT, MINUTES
from tests.conftest import ClientFor
from tests.e2e.test_plan_scenarios import ok, register
from tests.factories import admit, create_person

FHIR = {"Accept": "application/fhir+json"}
GUARDIANS = [{"name": "Maria Ek", "role": "guardian"}, {"name": "Johan Ek", "role": "guardian"}]


def soon(days: int = 3) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


async def child_plan(centre: httpx.AsyncClient, person_id: str, **content: Any) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    plan = ok(
        await centre.post(
            "/api/v1/plans",
            json={
                "person_id": person_id,
                "title": "SIP för Ylva",
                "goals": [{"id": "g1", "description": "Äta själv"}],
                "interventions": [
                    {
                        "id": "i1",
                        "description": "Habilitering",
                        "responsible_unit_id": "region-kalmar-habilitering",
                    }
                ],
                "responsible_principal_id": "region-kalmar",
                "coordinator": {"name": "Eva Lund", "unit_id": "region-kalmar-habilitering"},
                "start_date": today.isoformat(),
                "follow_up_dates": [(today + timedelta(days=60)).isoformat()],
                **content,
            },
        ),
        201,
    )
    return ok(
        await centre.post(
            f"/api/v1/plans/{plan['id']}/consents",
            json={
                "given_by": "legal-representative",
                "given_at": datetime.now(UTC).isoformat(),
                "method": "written",
                "share_with": ["region-kalmar", "kommun-0880"],
                "representatives": GUARDIANS,
            },
        ),
        201,
    )


async def test_guardians_consent_take_part_and_the_held_meeting_revises_the_plan(
    client_for: ClientFor,
) -> None:
    ward = await client_for("region-kalmar-lanssjukhuset-med")
    centre = await client_for("region-kalmar-hc-kalmar")
    municipality = await client_for("kommun-0880")
    person = await register(ward, "Ylva", date(2022, 2, 3))
    episode = await admit(
        ward,
        person["id"],
        datetime.now(UTC) - timedelta(days=2),
        unit="region-kalmar-lanssjukhuset-med",
        primary_care_unit_id="region-kalmar-hc-kalmar",
    )
    plan = await child_plan(centre, person["id"], episode_id=episode["id"])
    assert plan["episode_id"] == episode["id"]
    [consent] = plan["consents"]
    assert consent["representatives"] == GUARDIANS
    assert consent["representative_name"] == "Maria Ek"

    starts = soon()
    meeting = ok(
        await centre.post(
            "/api/v1/meetings",
            json={
                "plan_id": plan["id"],
                "starts_at": starts.isoformat(),
                "reply_by": starts.date().isoformat(),
                "location": "Vårdcentralen Kalmar",
                "participants": [
                    {"id": "hab", "kind": "unit", "organization_id": "region-kalmar-habilitering"},
                    {"id": "hem", "kind": "unit", "organization_id": "kommun-0880-hemtjanst"},
                    {
                        "id": "mor",
                        "kind": "legal-representative",
                        "name": "Maria Ek",
                        "representative_role": "guardian",
                    },
                    {
                        "id": "far",
                        "kind": "legal-representative",
                        "name": "Johan Ek",
                        "representative_role": "guardian",
                    },
                ],
            },
        ),
        201,
    )
    # The guardians' answers are recorded by any party, here the municipality.
    ok(
        await municipality.post(
            f"/api/v1/meetings/{meeting['id']}/replies",
            json={"participant_id": "mor", "reply": "accepted"},
        )
    )
    replied = ok(
        await centre.post(
            f"/api/v1/meetings/{meeting['id']}/replies",
            json={"participant_id": "far", "reply": "declined", "reason": "Arbetar"},
        )
    )
    replies = {p["id"]: (p["reply"], p["representative_role"]) for p in replied["participants"]}
    assert replies["mor"] == ("accepted", "guardian")
    assert replies["far"] == ("declined", "guardian")

    # Only the organizer marks it held; the revision is made against the plan's version.
    current = ok(await centre.get(f"/api/v1/plans/{plan['id']}"))
    revised_content = {
        "title": "SIP för Ylva",
        "goals": [
            {"id": "g1", "description": "Äta själv"},
            {"id": "g2", "description": "Förskola"},
        ],
        "interventions": [
            {
                "id": "i1",
                "description": "Habilitering",
                "responsible_unit_id": "region-kalmar-habilitering",
            }
        ],
        "responsible_principal_id": "region-kalmar",
        "coordinator": {"name": "Eva Lund", "unit_id": "region-kalmar-habilitering"},
        "start_date": current["start_date"],
        "follow_up_dates": current["follow_up_dates"],
        "episode_id": episode["id"],
    }
    held_at = datetime.now(UTC)
    body = {
        "held_at": held_at.isoformat(),
        "attended": ["hab", "mor"],
        "minutes": "Ylva börjar förskola i augusti.",
        "revision": revised_content,
        "plan_version": current["version"],
    }
    not_organizer = await municipality.post(f"/api/v1/meetings/{meeting['id']}/held", json=body)
    assert not_organizer.status_code == 403, not_organizer.text
    held = ok(await centre.post(f"/api/v1/meetings/{meeting['id']}/held", json=body))
    assert held["status"] == "held" and held["minutes"] == "Ylva börjar förskola i augusti."
    assert {p["id"]: p["attended"] for p in held["participants"]} == {
        "hab": True,
        "hem": False,
        "mor": True,
        "far": False,
    }
    after = ok(await centre.get(f"/api/v1/plans/{plan['id']}"))
    assert after["version"] == current["version"] + 1
    assert [g["id"] for g in after["goals"]] == ["g1", "g2"]
    again = await centre.post(f"/api/v1/meetings/{meeting['id']}/held", json={"attended": ["hab"]})
    assert again.status_code == 409, again.text
    late_reply = await centre.post(
        f"/api/v1/meetings/{meeting['id']}/replies",
        json={"participant_id": "far", "reply": "accepted"},
    )
    assert late_reply.status_code == 409, late_reply.text

    # Over FHIR: the Appointment is fulfilled with attendance and minutes, the Consent names both
    # guardians, the CarePlan the Encounter it follows.
    appointment = ok(await centre.get(f"/fhir/Appointment/{meeting['id']}", headers=FHIR))
    assert appointment["status"] == "fulfilled"
    extensions = {e["url"]: e for e in appointment["extension"]}
    assert extensions[MINUTES]["valueString"] == "Ylva börjar förskola i augusti."
    assert HELD_AT in extensions
    attended = {
        p["id"]: next(e["valueBoolean"] for e in p["extension"] if e["url"] == ATTENDED)
        for p in appointment["participant"]
    }
    assert attended == {"hab": True, "hem": False, "mor": True, "far": False}
    kinds = {
        p["id"]: [c["code"] for t in p["type"] for c in t["coding"]]
        for p in appointment["participant"]
    }
    assert kinds["mor"] == ["legal-representative", "guardian"]
    fulfilled = ok(
        await centre.get(
            "/fhir/Appointment",
            params={"patient": person["id"], "status": "fulfilled"},
            headers=FHIR,
        )
    )
    assert [e["resource"]["id"] for e in fulfilled.get("entry", [])] == [meeting["id"]]
    fhir_consent = ok(await centre.get(f"/fhir/Consent/{plan['id']}.0", headers=FHIR))
    assert [p["display"] for p in fhir_consent["performer"]] == [
        "Maria Ek (guardian)",
        "Johan Ek (guardian)",
    ]
    assert [v["verifiedWith"]["display"] for v in fhir_consent["verification"]] == [
        "Maria Ek (guardian)",
        "Johan Ek (guardian)",
    ]
    careplan = ok(await centre.get(f"/fhir/CarePlan/{plan['id']}", headers=FHIR))
    assert careplan["encounter"] == {"reference": f"Encounter/{episode['id']}"}


async def test_the_episode_a_plan_follows_is_the_persons_own_and_one_the_caller_sees(
    client_for: ClientFor,
) -> None:
    ward = await client_for("region-kalmar-lanssjukhuset-med")
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await register(ward, "Ylva", date(2022, 2, 4))
    other = await register(ward, "Annan", date(2021, 2, 4))
    admitted = datetime.now(UTC) - timedelta(days=1)
    unit = "region-kalmar-lanssjukhuset-med"
    # No primary-care unit: the health centre is no party to this stay.
    unseen = await admit(ward, person["id"], admitted, unit=unit)
    others = await admit(
        ward, other["id"], admitted, unit=unit, primary_care_unit_id="region-kalmar-hc-kalmar"
    )
    for episode_id, status in ((unseen["id"], 422), (others["id"], 422), ("nope", 422)):
        response = await centre.post(
            "/api/v1/plans",
            json={"person_id": person["id"], "title": "SIP", "episode_id": episode_id},
        )
        assert response.status_code == status, response.text
        assert response.json()["errors"][0]["field"] == "episode_id"
    # The unknown and the unseen episode get the same answer.
    answers = []
    for episode_id in (unseen["id"], str(uuid.uuid4())):
        response = await centre.post(
            "/api/v1/plans",
            json={"person_id": person["id"], "title": "SIP", "episode_id": episode_id},
        )
        answers.append(response.json()["detail"].replace(episode_id, "<id>"))
    assert answers[0] == answers[1]


async def test_bad_participants_consents_and_held_marks_are_refused_naming_the_field(
    client_for: ClientFor,
) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await create_person(centre, municipality="kommun-0880")
    plan = await child_plan(centre, person["id"])
    starts = soon()
    base = {
        "plan_id": plan["id"],
        "starts_at": starts.isoformat(),
        "reply_by": starts.date().isoformat(),
        "location": "Rum 1",
    }
    no_role = await centre.post(
        "/api/v1/meetings",
        json={**base, "participants": [{"id": "r", "kind": "legal-representative", "name": "X"}]},
    )
    assert no_role.status_code == 422
    assert no_role.json()["errors"][0]["field"] == "participants[0].representative_role"
    role_on_unit = await centre.post(
        "/api/v1/meetings",
        json={
            **base,
            "participants": [
                {
                    "id": "u",
                    "kind": "unit",
                    "organization_id": "region-kalmar-habilitering",
                    "representative_role": "guardian",
                }
            ],
        },
    )
    assert role_on_unit.status_code == 422
    assert role_on_unit.json()["errors"][0]["field"] == "participants[0].representative_role"
    twice = await centre.post(
        f"/api/v1/plans/{plan['id']}/consents",
        json={
            "given_by": "legal-representative",
            "given_at": datetime.now(UTC).isoformat(),
            "method": "oral",
            "share_with": ["region-kalmar"],
            "representatives": [GUARDIANS[0], GUARDIANS[0]],
        },
    )
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "representatives[1]"
    none = await centre.post(
        f"/api/v1/plans/{plan['id']}/consents",
        json={
            "given_by": "legal-representative",
            "given_at": datetime.now(UTC).isoformat(),
            "method": "oral",
            "share_with": ["region-kalmar"],
        },
    )
    assert none.status_code == 422 and none.json()["errors"][0]["field"] == "representatives"
    own = await centre.post(
        f"/api/v1/plans/{plan['id']}/consents",
        json={
            "given_by": "person",
            "given_at": datetime.now(UTC).isoformat(),
            "method": "oral",
            "share_with": ["region-kalmar"],
            "representatives": GUARDIANS,
        },
    )
    assert own.status_code == 422 and own.json()["errors"][0]["field"] == "representatives"

    meeting = ok(
        await centre.post(
            "/api/v1/meetings", json={**base, "participants": [{"id": "p", "kind": "person"}]}
        ),
        201,
    )
    path = f"/api/v1/meetings/{meeting['id']}/held"
    cases = [
        ({"attended": ["p"]}, "held_at"),  # the planned start has not come
        ({"attended": ["p"], "held_at": soon(1).isoformat()}, "held_at"),
        ({"attended": ["nobody"], "held_at": datetime.now(UTC).isoformat()}, "attended[0]"),
        (
            {
                "attended": ["p"],
                "held_at": datetime.now(UTC).isoformat(),
                "revision": {"title": "x"},
            },
            "plan_version",
        ),
    ]
    for body, field in cases:
        response = await centre.post(path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field, body
    unchanged = ok(await centre.get(f"/api/v1/meetings/{meeting['id']}"))
    assert unchanged["status"] == "scheduled" and unchanged["version"] == meeting["version"]
