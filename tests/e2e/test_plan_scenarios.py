"""The three example persons of the Kalmar routine (Samordningsplan Rutiner 2012, slides 10–12),
each through a whole coordinated plan over HTTP: initiation, consent, summons, replies,
activation, a follow-up revision and completion.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx

from app.domain.identifiers import PERSONNUMMER
from tests.conftest import ClientFor
from tests.factories import admit, notice, personnummer


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def register(http: httpx.AsyncClient, given: str, birth: date) -> dict[str, Any]:
    return ok(
        await http.post(
            "/api/v1/persons",
            json={
                "identifier": {"system": PERSONNUMMER, "value": personnummer(birth)},
                "given_name": given,
                "family_name": "Exempel",
                "residence_municipality_id": "kommun-0880",
            },
        ),
        201,
    )


def at(now: datetime, days: int, hour: int = 13) -> datetime:
    """``hour`` o'clock (UTC) ``days`` after the day of ``now``."""
    return (now + timedelta(days=days)).replace(hour=hour, minute=0, second=0)


async def summon(
    http: httpx.AsyncClient,
    plan_id: str,
    participants: list[dict[str, Any]],
    now: datetime,
    **where: str,
) -> dict[str, Any]:
    """A meeting of the plan two days after ``now``, to be answered the day before."""
    starts = at(now, 2)
    return ok(
        await http.post(
            "/api/v1/meetings",
            json={
                "plan_id": plan_id,
                "starts_at": starts.isoformat(),
                "reply_by": (starts.date() - timedelta(days=1)).isoformat(),
                "participants": participants,
                **where,
            },
        ),
        201,
    )


async def reply(http: httpx.AsyncClient, meeting_id: str, **body: Any) -> dict[str, Any]:
    return ok(await http.post(f"/api/v1/meetings/{meeting_id}/replies", json=body))


async def revise(http: httpx.AsyncClient, plan: dict[str, Any], **changes: Any) -> dict[str, Any]:
    keep = (
        "title",
        "goals",
        "resources",
        "needs",
        "others",
        "responsible_principal_id",
        "start_date",
        "planned_end_date",
        "follow_up_dates",
        "basis",
    )
    body: dict[str, Any] = {k: plan[k] for k in keep}
    body["interventions"] = [
        {k: i[k] for k in ("id", "description", "responsible_unit_id", "frequency")}
        for i in plan["interventions"]
    ]
    coordinator = plan["coordinator"]
    body["coordinator"] = (
        None
        if coordinator is None
        else {k: coordinator[k] for k in ("name", "unit_id", "title", "chosen_with_person")}
    )
    body.update(changes)
    return ok(
        await http.put(
            f"/api/v1/plans/{plan['id']}",
            json=body,
            headers={"If-Match": f'W/"{plan["version"]}"'},
        )
    )


async def test_peter_55_after_a_stroke(client_for: ClientFor, now: datetime) -> None:
    """Stroke, wheelchair and walker, cognitive difficulties; no home, no income, debts."""
    hospital = await client_for("region-kalmar")
    health_centre = await client_for("region-kalmar-hc-kalmar")
    municipality = await client_for("kommun-0880")
    social_services = await client_for("kommun-0880-socialtjanst")

    peter = await register(hospital, "Peter", date(1971, 4, 2))
    episode = await admit(
        hospital,
        peter["id"],
        now - timedelta(days=10),
        unit="region-kalmar-lanssjukhuset-med",
        primary_care_unit_id="region-kalmar-hc-kalmar",
    )
    assert (await notice(hospital, episode["id"], "admission-notice")).status_code == 200
    ready = await notice(hospital, episode["id"], "discharge-ready", coordinated_planning=True)
    assert ready.status_code == 200, ready.text

    # The fixed care contact at the health centre sees the need and initiates the plan.
    plan = ok(
        await health_centre.post(
            "/api/v1/plans",
            json={"person_id": peter["id"], "title": "Samordnad individuell plan, Peter"},
        ),
        201,
    )
    assert (plan["status"], plan["category"], plan["version"]) == ("draft", "SIP", 1)
    assert plan["shared_with"] == ["region-kalmar"]
    # Before Peter consents, the municipality does not see the plan.
    assert (await municipality.get(f"/api/v1/plans/{plan['id']}")).status_code == 404

    plan = ok(
        await health_centre.post(
            f"/api/v1/plans/{plan['id']}/consents",
            json={
                "given_by": "person",
                "given_at": now.isoformat(),
                "method": "oral",
                "share_with": ["region-kalmar", "kommun-0880"],
            },
        ),
        201,
    )
    assert plan["shared_with"] == ["kommun-0880", "region-kalmar"]
    assert ok(await municipality.get(f"/api/v1/plans/{plan['id']}"))["version"] == 2

    # Summoned within three days of the discharge-ready notice.
    meeting = await summon(
        health_centre,
        plan["id"],
        [
            {"id": "peter", "kind": "person"},
            {"id": "soc", "kind": "unit", "organization_id": "kommun-0880-socialtjanst"},
            {"id": "hemtj", "kind": "unit", "organization_id": "kommun-0880-hemtjanst"},
            {
                "id": "ward",
                "kind": "staff",
                "organization_id": "region-kalmar-lanssjukhuset-med",
                "name": "Sjuksköterska Ek",
            },
        ],
        now,
        location="Kalmar vårdcentral",
    )
    deadlines = ok(await hospital.get("/api/v1/summons-deadlines"))
    mine = [d for d in deadlines if d["episode_id"] == episode["id"]]
    assert [d["status"] for d in mine] == ["met"]

    meeting = await reply(social_services, meeting["id"], participant_id="soc", reply="accepted")
    proposed = (at(now, 3, 9)).isoformat()
    meeting = await reply(
        municipality,
        meeting["id"],
        participant_id="hemtj",
        reply="proposed-new-time",
        proposed_start=proposed,
    )
    meeting = await reply(health_centre, meeting["id"], participant_id="peter", reply="accepted")
    meeting = await reply(hospital, meeting["id"], participant_id="ward", reply="accepted")
    replies = {p["id"]: p["reply"] for p in meeting["participants"]}
    assert replies == {
        "peter": "accepted",
        "soc": "accepted",
        "hemtj": "proposed-new-time",
        "ward": "accepted",
    }
    # The organizer moves the meeting to the proposed time; everyone is asked again.
    meeting = ok(
        await health_centre.post(
            f"/api/v1/meetings/{meeting['id']}/reschedule",
            json={
                "starts_at": proposed,
                "reply_by": (at(now, 3).date() - timedelta(days=1)).isoformat(),
            },
        )
    )
    assert {p["reply"] for p in meeting["participants"]} == {"pending"}
    for who, http in (("soc", social_services), ("hemtj", municipality), ("peter", health_centre)):
        meeting = await reply(http, meeting["id"], participant_id=who, reply="accepted")

    # At the meeting the plan is written, with Peter's own goals, and a coordinator he chose.
    plan = await revise(
        municipality,
        ok(await municipality.get(f"/api/v1/plans/{plan['id']}")),
        goals=[
            {"id": "bostad", "description": "Ha en egen bostad"},
            {"id": "rorlighet", "description": "Klara förflyttning med rollator inomhus"},
        ],
        resources=["Vill komma tillbaka till arbete", "F.d. sambo i Kalmar"],
        needs=["Bostad", "Inkomst och skuldrådgivning", "Rehabilitering efter stroke"],
        interventions=[
            {
                "id": "ekonomi",
                "description": "Ekonomiskt bistånd, skuldrådgivning och bostadssökande",
                "responsible_unit_id": "kommun-0880-socialtjanst",
                "frequency": "varannan vecka",
            },
            {
                "id": "rehab",
                "description": "Fysioterapi och arbetsterapi",
                "responsible_unit_id": "region-kalmar-hc-kalmar",
                "frequency": "två gånger i veckan",
            },
            {
                "id": "hemtjanst",
                "description": "Stöd med personlig omvårdnad",
                "responsible_unit_id": "kommun-0880-hemtjanst",
                "frequency": "dagligen",
            },
        ],
        responsible_principal_id="kommun-0880",
        coordinator={"name": "Socialsekreterare Lind", "unit_id": "kommun-0880-socialtjanst"},
        start_date=now.date().isoformat(),
        planned_end_date=(now.date() + timedelta(days=365)).isoformat(),
        follow_up_dates=[(now.date() + timedelta(days=90)).isoformat()],
    )
    assert plan["coordinator"]["principal_id"] == "kommun-0880"
    plan = ok(
        await municipality.post(
            f"/api/v1/plans/{plan['id']}/activate",
            json={},
            headers={"If-Match": f'W/"{plan["version"]}"'},
        )
    )
    assert plan["status"] == "active"

    # The follow-up: the housing goal is reached, the plan is revised as a new version.
    before = plan["version"]
    plan = await revise(
        social_services,
        plan,
        goals=[
            {"id": "bostad", "description": "Ha en egen bostad (uppnått: lägenhet på Berga)"},
            {"id": "rorlighet", "description": "Klara förflyttning med rollator inomhus"},
        ],
    )
    assert plan["version"] == before + 1 and plan["status"] == "active"
    versions = ok(await hospital.get(f"/api/v1/plans/{plan['id']}/versions"))
    assert [v["version"] for v in versions] == list(range(1, plan["version"] + 1))
    old = ok(await hospital.get(f"/api/v1/plans/{plan['id']}/versions/{before}"))
    assert old["goals"][0]["description"] == "Ha en egen bostad"

    plan = ok(
        await municipality.post(
            f"/api/v1/plans/{plan['id']}/complete", json={"reason": "Målen uppnådda"}
        )
    )
    assert (plan["status"], plan["status_reason"]) == ("completed", "Målen uppnådda")


async def test_viola_78_with_heart_disease_diabetes_and_new_dementia(
    client_for: ClientFor,
    now: datetime,
) -> None:
    """Infarctions, diabetes, new dementia; husband has Parkinson; son abroad; neighbour Svea."""
    health_centre = await client_for("region-kalmar-hc-kalmar")
    # The municipality's system acting for its home health care: the plan is shared with the
    # municipality, and home health care is no party of its own until it is responsible.
    home_health = await client_for("kommun-0880")
    home_health.headers["X-Samverkan-Unit"] = "kommun-0880-hemsjukvard"
    municipality = await client_for("kommun-0880")

    viola = await register(health_centre, "Viola", date(1948, 2, 11))
    # Her son, abroad, asked for coordination; the health centre records it.
    plan = ok(
        await health_centre.post(
            "/api/v1/plans",
            json={
                "person_id": viola["id"],
                "initiated_by": {"kind": "relative", "name": "Sonen Erik"},
                "title": "SIP, Viola",
                "goals": [{"id": "hemma", "description": "Bo kvar i villan med maken"}],
            },
        ),
        201,
    )
    assert plan["initiated_by"] == {"kind": "relative", "name": "Sonen Erik"}
    refused = await health_centre.post(f"/api/v1/plans/{plan['id']}/activate", json={})
    assert refused.status_code == 422
    missing = {e["field"] for e in refused.json()["errors"]}
    assert missing == {
        "consents",
        "interventions",
        "responsible_principal_id",
        "coordinator",
        "follow_up_dates",
        "start_date",
    }
    # A relative takes part only with consent.
    early = await health_centre.post(
        "/api/v1/meetings",
        json={
            "plan_id": plan["id"],
            "starts_at": at(now, 4).isoformat(),
            "reply_by": at(now, 3).date().isoformat(),
            "video_link": "https://mote.example/viola",
            "participants": [{"id": "son", "kind": "relative", "name": "Erik"}],
        },
    )
    assert early.status_code == 422 and "consent" in early.json()["detail"]

    # With her new dementia diagnosis, her god man consents for her, in writing.
    plan = ok(
        await health_centre.post(
            f"/api/v1/plans/{plan['id']}/consents",
            json={
                "given_by": "legal-representative",
                "representative_name": "God man Karin Ek",
                "given_at": now.isoformat(),
                "method": "written",
                "share_with": ["region-kalmar", "kommun-0880"],
            },
        ),
        201,
    )
    meeting = await summon(
        health_centre,
        plan["id"],
        [
            {"id": "viola", "kind": "person"},
            {"id": "son", "kind": "relative", "name": "Erik"},
            {"id": "hsv", "kind": "unit", "organization_id": "kommun-0880-hemsjukvard"},
            {"id": "hemtj", "kind": "unit", "organization_id": "kommun-0880-hemtjanst"},
        ],
        now,
        video_link="https://mote.example/viola",
    )
    meeting = await reply(home_health, meeting["id"], participant_id="hsv", reply="accepted")
    meeting = await reply(
        municipality,
        meeting["id"],
        participant_id="hemtj",
        reply="declined",
        reason="Ingen hemtjänst beviljad ännu; biståndshandläggaren deltar i stället",
    )
    meeting = await reply(health_centre, meeting["id"], participant_id="son", reply="accepted")
    declined = next(p for p in meeting["participants"] if p["id"] == "hemtj")
    assert declined["reason"].startswith("Ingen hemtjänst")

    plan = await revise(
        home_health,
        ok(await home_health.get(f"/api/v1/plans/{plan['id']}")),
        resources=["Maken", "Grannen Svea"],
        needs=["Blodsocker och läkemedel", "Trygghet vid oro och nattlig ångest"],
        interventions=[
            {
                "id": "insulin",
                "description": "Insulin och blodsockerkontroll",
                "responsible_unit_id": "kommun-0880-hemsjukvard",
                "frequency": "morgon och kväll",
            },
            {
                "id": "hjarta",
                "description": "Uppföljning av hjärta, diabetes och demens",
                "responsible_unit_id": "region-kalmar-hc-kalmar",
                "frequency": "var tredje månad",
            },
        ],
        others=[
            {"who": "Svea", "relation": "granne", "contribution": "Tittar in ibland"},
            {"who": "Erik", "relation": "son", "contribution": "Ringer varje söndag"},
        ],
        responsible_principal_id="region-kalmar",
        coordinator={"name": "Distriktssköterska Holm", "unit_id": "region-kalmar-hc-kalmar"},
        start_date=now.date().isoformat(),
        follow_up_dates=[(now.date() + timedelta(days=60)).isoformat()],
    )
    plan = ok(await health_centre.post(f"/api/v1/plans/{plan['id']}/activate", json={}))
    assert plan["status"] == "active"
    # Responsible for the insulin now, home health care's own client is a party to the plan.
    unit = await client_for("kommun-0880-hemsjukvard")
    assert ok(await unit.get(f"/api/v1/plans/{plan['id']}"))["status"] == "active"
    # LSS, a unit of the same municipality with no part in it, does not see it.
    assert (
        await (await client_for("kommun-0880-lss")).get(f"/api/v1/plans/{plan['id']}")
    ).status_code == 404
    plan = await revise(
        health_centre,
        plan,
        needs=[*plan["needs"], "Avlösning för maken"],
        follow_up_dates=[
            (now.date() + timedelta(days=60)).isoformat(),
            (now.date() + timedelta(days=150)).isoformat(),
        ],
    )
    assert "Avlösning för maken" in plan["needs"] and len(plan["follow_up_dates"]) == 2
    plan = ok(await home_health.post(f"/api/v1/plans/{plan['id']}/complete", json={}))
    assert plan["status"] == "completed"
    closed = await home_health.put(
        f"/api/v1/plans/{plan['id']}",
        json={"title": "För sent"},
        headers={"If-Match": f'W/"{plan["version"]}"'},
    )
    assert closed.status_code == 409 and "completed" in closed.json()["detail"]


async def test_ylva_4_with_autism(client_for: ClientFor, now: datetime) -> None:
    """Autism, self-harm; six siblings; mother with bipolar disorder; no car, lives outside town."""
    habilitation = await client_for("region-kalmar-habilitering")
    lss = await client_for("kommun-0880")
    lss.headers["X-Samverkan-Unit"] = "kommun-0880-lss"
    municipality = await client_for("kommun-0880")
    neighbour_municipality = await client_for("kommun-0861")

    ylva = await register(habilitation, "Ylva", date(2022, 5, 3))
    plan = ok(
        await habilitation.post(
            "/api/v1/plans",
            json={
                "person_id": ylva["id"],
                "title": "SIP, Ylva",
                "basis": [
                    {
                        "kind": "lss-plan",
                        "reference": "LSS-plan 2026-114",
                        "description": "Individuell plan enligt LSS 10 §",
                    }
                ],
            },
        ),
        201,
    )
    assert plan["basis"][0]["kind"] == "lss-plan"
    plan = ok(
        await habilitation.post(
            f"/api/v1/plans/{plan['id']}/consents",
            json={
                "given_by": "legal-representative",
                "representative_name": "Vårdnadshavarna",
                "given_at": now.isoformat(),
                "method": "written",
                "share_with": ["region-kalmar", "kommun-0880", "kommun-0861"],
            },
        ),
        201,
    )
    consent_id = plan["consents"][0]["id"]
    # The preschool is in the neighbouring municipality, which now sees the plan.
    assert (await neighbour_municipality.get(f"/api/v1/plans/{plan['id']}")).status_code == 200

    meeting = await summon(
        habilitation,
        plan["id"],
        [
            {"id": "family", "kind": "relative", "name": "Föräldrarna"},
            {"id": "lss", "kind": "unit", "organization_id": "kommun-0880-lss"},
            {"id": "soc", "kind": "unit", "organization_id": "kommun-0880-socialtjanst"},
        ],
        now,
        video_link="https://mote.example/ylva",
        location="Habiliteringen, Kalmar (tolk på plats)",
    )
    meeting = await reply(lss, meeting["id"], participant_id="lss", reply="accepted")
    meeting = await reply(municipality, meeting["id"], participant_id="soc", reply="accepted")
    meeting = await reply(habilitation, meeting["id"], participant_id="family", reply="accepted")
    assert {p["reply"] for p in meeting["participants"]} == {"accepted"}

    plan = await revise(
        lss,
        ok(await lss.get(f"/api/v1/plans/{plan['id']}")),
        goals=[
            {"id": "kommunikation", "description": "Kunna visa vad hon vill med bildstöd"},
            {"id": "skada", "description": "Färre tillfällen av självskada"},
        ],
        needs=["Kommunikationsstöd", "Avlösning för familjen", "Färdtjänst"],
        resources=["Sex syskon", "Föräldrarna"],
        interventions=[
            {
                "id": "hab",
                "description": "Logoped och psykolog, bildstöd",
                "responsible_unit_id": "region-kalmar-habilitering",
                "frequency": "varje vecka",
            },
            {
                "id": "avlosning",
                "description": "Korttidsvistelse enligt LSS",
                "responsible_unit_id": "kommun-0880-lss",
                "frequency": "en helg i månaden",
            },
            {
                "id": "familj",
                "description": "Familjestöd och färdtjänst",
                "responsible_unit_id": "kommun-0880-socialtjanst",
                "frequency": None,
            },
        ],
        responsible_principal_id="region-kalmar",
        coordinator={"name": "Kurator Sand", "unit_id": "region-kalmar-habilitering"},
        start_date=now.date().isoformat(),
        follow_up_dates=[(now.date() + timedelta(days=120)).isoformat()],
    )
    plan = ok(await habilitation.post(f"/api/v1/plans/{plan['id']}/activate", json={}))

    # The family moves the preschool place: sharing with the neighbouring municipality stops.
    plan = ok(
        await habilitation.post(
            f"/api/v1/plans/{plan['id']}/consents/{consent_id}/withdrawal",
            json={"at": now.isoformat(), "principal_ids": ["kommun-0861"]},
        )
    )
    assert plan["shared_with"] == ["kommun-0880", "region-kalmar"]
    assert [w["principal_id"] for w in plan["sharing_withdrawn"]] == ["kommun-0861"]
    assert (await neighbour_municipality.get(f"/api/v1/plans/{plan['id']}")).status_code == 404
    assert (await neighbour_municipality.get(f"/api/v1/persons/{ylva['id']}")).status_code == 404
    assert plan["status"] == "active"

    plan = await revise(
        habilitation,
        plan,
        goals=[
            {"id": "kommunikation", "description": "Visar vad hon vill med bildstöd (uppnått)"},
            {"id": "skada", "description": "Färre tillfällen av självskada"},
        ],
    )
    plan = ok(await lss.post(f"/api/v1/plans/{plan['id']}/complete", json={}))
    assert plan["status"] == "completed"
    versions = ok(await lss.get(f"/api/v1/plans/{plan['id']}/versions"))
    assert [v["status"] for v in versions][-1] == "completed"
    assert {v["organization_id"] for v in versions} >= {
        "region-kalmar-habilitering",
        "kommun-0880-lss",
    }
