"""FHIR versions, history and meta (issue 16): vread on every type, ``meta.lastUpdated`` from the
stored data with ``Last-Modified`` and ``ETag`` that agree with it, history Bundles that link to
themselves, CarePlan revisions that are versions (not ``replaces``), and the access log's
history paged to any depth.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.fhir.artifacts import PUBLISHED
from app.fhir.resources import RESOURCES
from app.store import tables as t
from tests.conftest import ClientFor
from tests.database import connected
from tests.e2e.test_fhir import FHIR, fhir, story
from tests.e2e.test_fhir_writes import patient
from tests.e2e.test_plan_scenarios import ok
from tests.factories import personnummer

# Types the story below leaves nothing of for the hospital to find.
NOT_IN_STORY = {"DocumentReference", "Binary", "QuestionnaireResponse"}


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def http_date(value: str) -> str:
    return format_datetime(moment(value).astimezone(UTC).replace(microsecond=0), usegmt=True)


def assert_versioned(response: httpx.Response) -> dict[str, Any]:
    """The body of a response about one resource version: its ETag and Last-Modified are the
    body's meta.versionId and meta.lastUpdated."""
    resource = response.json()
    meta = resource["meta"]
    assert response.headers["etag"] == f'W/"{meta["versionId"]}"', resource["resourceType"]
    assert response.headers["last-modified"] == http_date(meta["lastUpdated"])
    return resource


async def richer_story(client_for: ClientFor, now: datetime) -> dict[str, Any]:
    """The FHIR story, with a care message (read at a known instant) and a deviation."""
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    message = ok(
        await hospital.post(
            "/api/v1/care-messages",
            json={
                "recipients": ["kommun-0880-hemtjanst"],
                "person_id": ids["person"]["id"],
                "subject": "Hemgång",
                "text": "Greta går hem på fredag.",
            },
        ),
        201,
    )
    # Read a moment after it was sent, at an instant no clock of the server gives.
    read_at = datetime.fromisoformat(message["sent_at"]) + timedelta(microseconds=1234)
    home_care = await client_for("kommun-0880-hemtjanst")
    message = ok(
        await home_care.post(
            f"/api/v1/care-messages/{message['id']}/read", json={"at": read_at.isoformat()}
        )
    )
    ok(
        await home_care.post(
            f"/api/v1/meetings/{ids['meeting']['id']}/replies",
            json={"participant_id": "ht", "reply": "accepted"},
        )
    )
    municipality = await client_for("kommun-0880")
    deviation = ok(
        await municipality.post(
            "/api/v1/deviations",
            json={
                "category": "missing-discharge-information",
                "episode_id": ids["episode"]["id"],
                "description": "Ingen läkemedelslista.",
            },
        ),
        201,
    )
    return {**ids, "message": message, "read_at": read_at, "deviation": deviation}


async def test_every_type_declares_vread_and_answers_it(
    client_for: ClientFor, now: datetime
) -> None:
    await richer_story(client_for, now)
    hospital = await client_for("region-kalmar")
    statement = fhir(await hospital.get("/fhir/metadata"))
    declared = {r["type"]: r for r in statement["rest"][0]["resource"]}
    checked = set()
    for name in RESOURCES:
        assert "vread" in {i["code"] for i in declared[name]["interaction"]}, name
        found = fhir(await hospital.get(f"/fhir/{name}", params={"_count": "1"}))
        if not found.get("entry"):
            assert name in NOT_IN_STORY, f"the story has no {name} for the hospital"
            continue
        ident = found["entry"][0]["resource"]["id"]
        current = assert_versioned(await hospital.get(f"/fhir/{name}/{ident}"))
        version = current["meta"]["versionId"]
        assert version.isdigit() and int(version) >= 1, (name, version)
        # The version the read names can be read as that version, with the same headers.
        again = await hospital.get(f"/fhir/{name}/{ident}/_history/{version}")
        assert again.status_code == 200, (name, again.text)
        assert assert_versioned(again) == current, name
        # A version that was never written is not found (an OperationOutcome).
        beyond = fhir(await hospital.get(f"/fhir/{name}/{ident}/_history/{int(version) + 1}"), 404)
        assert beyond["resourceType"] == "OperationOutcome", name
        # Its instance history holds the version read, with the same ETag.
        history = fhir(await hospital.get(f"/fhir/{name}/{ident}/_history"))
        newest = history["entry"][0]
        assert newest["resource"] == current, name
        assert newest["response"]["etag"] == f'W/"{version}"'
        assert newest["response"]["lastModified"] == current["meta"]["lastUpdated"]
        checked.add(name)
    assert checked == set(RESOURCES) - NOT_IN_STORY


async def test_every_search_entry_and_history_entry_has_last_updated(
    client_for: ClientFor,
    now: datetime,
) -> None:
    await richer_story(client_for, now)
    hospital = await client_for("region-kalmar")
    for name in RESOURCES:
        found = fhir(await hospital.get(f"/fhir/{name}", params={"_count": "20"}))
        for entry in found.get("entry", []):
            meta = entry["resource"]["meta"]
            assert meta.get("lastUpdated") and meta.get("versionId"), (name, meta)
        history = fhir(await hospital.get(f"/fhir/{name}/_history", params={"_count": "20"}))
        for entry in history.get("entry", []):
            meta = entry["resource"]["meta"]
            assert meta.get("lastUpdated"), (name, meta)
            assert entry["response"]["etag"] == f'W/"{meta["versionId"]}"'


async def test_last_updated_is_when_each_version_was_written(
    client_for: ClientFor, now: datetime
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    ids = await richer_story(client_for, now)
    after = datetime.now(UTC) + timedelta(seconds=1)
    hospital = await client_for("region-kalmar")

    # Written by this test's requests: between its start and end, whatever the route's clock.
    for path in (
        f"/fhir/Patient/{ids['person']['id']}",
        f"/fhir/Encounter/{ids['episode']['id']}",
        f"/fhir/Appointment/{ids['meeting']['id']}",
    ):
        resource = assert_versioned(await hospital.get(path))
        assert before <= moment(resource["meta"]["lastUpdated"]) <= after, path
    # The staff register was loaded before: its entries carry when they were registered.
    for path in (
        f"/fhir/PractitionerRole/{ids['coordinator']['id']}",
        f"/fhir/Practitioner/{ids['coordinator']['practitioner_id']}",
    ):
        resource = assert_versioned(await hospital.get(path))
        assert moment(resource["meta"]["lastUpdated"]) <= after, path

    # A care message last changed when its recipient read it: the instant the read names.
    communication = assert_versioned(
        await hospital.get(f"/fhir/Communication/{ids['message']['id']}")
    )
    assert communication["meta"]["versionId"] == "2"
    assert moment(communication["meta"]["lastUpdated"]) == ids["read_at"]

    # Each version of a plan carries its own instant; the first is when the plan was created.
    plan_id, newest = ids["plan"]["id"], ids["plan"]["version"]
    stamps = []
    for version in range(1, newest + 1):
        read = await hospital.get(f"/fhir/CarePlan/{plan_id}/_history/{version}")
        stamps.append(moment(assert_versioned(read)["meta"]["lastUpdated"]))
    assert stamps == sorted(stamps)
    first = fhir(await hospital.get(f"/fhir/CarePlan/{plan_id}/_history/1"))
    assert moment(first["meta"]["lastUpdated"]) == moment(first["created"])
    # Goal, CareTeam and Consent are parts of the plan: its version and its instant.
    plan = fhir(await hospital.get(f"/fhir/CarePlan/{plan_id}"))
    for path in (f"/fhir/Goal/{plan_id}.g1", f"/fhir/CareTeam/{plan_id}"):
        part = assert_versioned(await hospital.get(path))
        assert part["meta"] == {k: plan["meta"][k] for k in ("versionId", "lastUpdated")}

    # A reply is a new version of the meeting, written after the summons.
    summoned = fhir(await hospital.get(f"/fhir/Appointment/{ids['meeting']['id']}"))
    home_care = await client_for("kommun-0880-hemtjanst")
    ok(
        await home_care.post(
            f"/api/v1/meetings/{ids['meeting']['id']}/replies",
            json={"participant_id": "ht", "reply": "declined", "reason": "Krockar"},
        )
    )
    replied = assert_versioned(await hospital.get(f"/fhir/Appointment/{ids['meeting']['id']}"))
    assert int(replied["meta"]["versionId"]) == int(summoned["meta"]["versionId"]) + 1
    assert replied["meta"]["lastUpdated"] >= summoned["meta"]["lastUpdated"]
    answer = assert_versioned(
        await hospital.get(f"/fhir/AppointmentResponse/{ids['meeting']['id']}.ht")
    )
    assert answer["meta"] == {k: replied["meta"][k] for k in ("versionId", "lastUpdated")}

    # The service's own definitions were written when the code defining them was published.
    for path in (
        "/fhir/CodeSystem/plan-category",
        "/fhir/Questionnaire/planning-basis",
    ):
        defined = assert_versioned(await hospital.get(path))
        assert moment(defined["meta"]["lastUpdated"]) == PUBLISHED, path


async def test_last_updated_search_uses_the_stored_instants(
    client_for: ClientFor, now: datetime
) -> None:
    ids = await richer_story(client_for, now)
    hospital = await client_for("region-kalmar")
    person_id = ids["person"]["id"]
    for name, ident in (
        ("Patient", person_id),
        ("Encounter", ids["episode"]["id"]),
        ("Appointment", ids["meeting"]["id"]),
        ("Communication", ids["message"]["id"]),
        ("CarePlan", ids["plan"]["id"]),
    ):
        stamp = fhir(await hospital.get(f"/fhir/{name}/{ident}"))["meta"]["lastUpdated"]
        params = {"_id": ident}
        hit = fhir(await hospital.get(f"/fhir/{name}", params={**params, "_lastUpdated": stamp}))
        assert [e["resource"]["id"] for e in hit["entry"]] == [ident], name
        at_or_after = {**params, "_lastUpdated": f"ge{stamp}"}
        assert len(fhir(await hospital.get(f"/fhir/{name}", params=at_or_after))["entry"]) == 1
        later = {**params, "_lastUpdated": f"gt{stamp}"}
        assert fhir(await hospital.get(f"/fhir/{name}", params=later)).get("entry", []) == []


async def test_create_and_update_answer_etag_and_last_modified(
    client_for: ClientFor, now: datetime
) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    plan_id = ids["plan"]["id"]
    read = await hospital.get(f"/fhir/CarePlan/{plan_id}")
    current = assert_versioned(read)
    current["title"] = "SIP, Greta (ny version)"
    updated = await hospital.put(
        f"/fhir/CarePlan/{plan_id}",
        json=current,
        headers={"Content-Type": FHIR, "If-Match": read.headers["etag"]},
    )
    assert updated.status_code == 200, updated.text
    body = assert_versioned(updated)
    assert body["meta"]["versionId"] == str(int(current["meta"]["versionId"]) + 1)
    assert updated.headers["location"].endswith(f"/_history/{body['meta']['versionId']}")
    # The minimal answer carries the same headers without the body.
    minimal = await hospital.put(
        f"/fhir/CarePlan/{plan_id}",
        json={**body, "title": "SIP, Greta (tredje)"},
        headers={
            "Content-Type": FHIR,
            "If-Match": updated.headers["etag"],
            "Prefer": "return=minimal",
        },
    )
    assert minimal.status_code == 200 and minimal.content == b""
    newest = await hospital.get(f"/fhir/CarePlan/{plan_id}")
    assert minimal.headers["etag"] == newest.headers["etag"]
    assert minimal.headers["last-modified"] == newest.headers["last-modified"]

    created = await hospital.post(
        "/fhir/Patient",
        json=patient(personnummer(date(1950, 2, 3))),
        headers={"Content-Type": FHIR},
    )
    assert created.status_code == 201, created.text
    person = assert_versioned(created)
    assert person["meta"]["versionId"] == "1"
    again = await hospital.get(f"/fhir/Patient/{person['id']}")
    assert assert_versioned(again)["meta"]["lastUpdated"] == person["meta"]["lastUpdated"]
    assert again.headers["etag"] == created.headers["etag"]


async def test_history_bundles_link_to_themselves(client_for: ClientFor, now: datetime) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    plan_id = ids["plan"]["id"]
    path = f"/fhir/CarePlan/{plan_id}/_history"
    instance = fhir(await hospital.get(path))
    assert instance["link"] == [{"relation": "self", "url": f"http://testserver{path}"}]
    assert instance["total"] == len(instance["entry"]) == ids["plan"]["version"]
    person_history = fhir(await hospital.get(f"/fhir/Patient/{ids['person']['id']}/_history"))
    assert person_history["link"][0]["relation"] == "self"

    paged = fhir(await hospital.get("/fhir/CarePlan/_history", params={"_count": "1"}))
    relations = {link["relation"]: link["url"] for link in paged["link"]}
    assert relations["self"] == "http://testserver/fhir/CarePlan/_history?_count=1"
    assert "_cursor=" in relations["next"]
    following = fhir(await hospital.get(relations["next"]))
    assert following["link"][0] == {"relation": "self", "url": relations["next"]}


async def test_a_careplan_revision_is_a_version_not_a_replacement(
    client_for: ClientFor, now: datetime
) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    plan_id = ids["plan"]["id"]
    assert ids["plan"]["version"] > 1
    history = fhir(await hospital.get(f"/fhir/CarePlan/{plan_id}/_history"))
    for entry in history["entry"]:
        assert "replaces" not in entry["resource"], entry["resource"]["meta"]
        assert entry["resource"]["id"] == plan_id
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == [
        str(v) for v in range(ids["plan"]["version"], 0, -1)
    ]


# A municipality no other test acts for: its log holds only what this test writes.
QUIET = "kommun-2514"
DEEP = 10_050


async def test_audit_event_history_pages_past_ten_thousand_entries(
    client_for: ClientFor, engine: AsyncEngine, app_engine: tuple[Any, AsyncEngine]
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    marker = uuid.uuid4().hex
    rows = [
        {
            "at": start + timedelta(seconds=i),
            "client_id": f"bulk-{marker}",
            "organization_id": QUIET,
            "principal_id": QUIET,
            "unit_id": None,
            "user_id": None,
            "action": "read",
            "resource_type": "Organization",
            "resource_id": f"o{i}",
            "person_id": None,
            "outcome": "success",
            "purpose": "TREAT",
            "request_id": marker,
        }
        for i in range(DEEP)
    ]
    async with connected(engine) as conn:
        await conn.execute(insert(t.access_log), rows)
        written = (
            await conn.execute(
                text("SELECT min(id), max(id) FROM access_log WHERE request_id = :m"), {"m": marker}
            )
        ).one()
    wanted = set(range(written[0], written[1] + 1))
    auditor = await client_for(QUIET)
    # The first page goes through the suite's client, whose every FHIR response the validators
    # check; the fifty pages after it, the same AuditEvents with other ids, through a plain
    # client on the same app and token (validating 10 000 alike entries took minutes).
    walker = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app_engine[0]),
        base_url="http://testserver",
        headers={"Authorization": auditor.headers["Authorization"]},
    )
    seen: list[int] = []
    url: str | None = "/fhir/AuditEvent/_history?_count=200"
    pages = 0
    while url is not None:
        page = fhir(await (auditor if pages == 0 else walker).get(url))
        pages += 1
        assert page["type"] == "history"
        assert page["link"][0]["relation"] == "self"
        assert page["link"][0]["url"].endswith(url.removeprefix("http://testserver"))
        seen += [int(e["resource"]["id"]) for e in page["entry"]]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        if pages == 1:
            assert url is not None and "total" not in page
    # Newest first, each entry once, down to the very first one written.
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen)
    assert wanted <= set(seen)
    assert pages >= DEEP // 200
    # _since keeps the newest: the last 30 entries written.
    since = (start + timedelta(seconds=DEEP - 30)).isoformat()
    recent = fhir(await auditor.get("/fhir/AuditEvent/_history", params={"_since": since}))
    assert [int(e["resource"]["id"]) for e in recent["entry"]] == sorted(
        (i for i in wanted if i > written[1] - 30), reverse=True
    )
    assert recent["total"] == 30
    bad = fhir(await auditor.get("/fhir/AuditEvent/_history", params={"_cursor": "x~1"}), 422)
    assert bad["issue"][0]["details"]["text"] == "_cursor"
    await walker.aclose()


async def test_the_parts_of_a_plan_are_read_at_the_plans_versions(
    client_for: ClientFor, now: datetime
) -> None:
    ids = await story(client_for, now)
    hospital = await client_for("region-kalmar")
    plan_id, newest = ids["plan"]["id"], ids["plan"]["version"]
    # The story: created (1), consented to (2), partly withdrawn (3), activated (4).
    assert newest == 4
    statement = fhir(await hospital.get("/fhir/metadata"))
    declared = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for name, ident, first in (
        ("Goal", f"{plan_id}.g1", 1),
        ("CareTeam", plan_id, 1),
        ("Consent", f"{plan_id}.0", 2),
    ):
        assert declared[name]["readHistory"] is True, name
        history = fhir(await hospital.get(f"/fhir/{name}/{ident}/_history"))
        versions = [e["resource"]["meta"]["versionId"] for e in history["entry"]]
        assert versions == [str(v) for v in range(newest, first - 1, -1)], name
        for version in range(first, newest + 1):
            part = assert_versioned(await hospital.get(f"/fhir/{name}/{ident}/_history/{version}"))
            plan = fhir(await hospital.get(f"/fhir/CarePlan/{plan_id}/_history/{version}"))
            assert part["meta"] == {k: plan["meta"][k] for k in ("versionId", "lastUpdated")}
        if first > 1:
            missing = await hospital.get(f"/fhir/{name}/{ident}/_history/{first - 1}")
            assert missing.status_code == 404, name
    # The consent as given (version 2) denied nothing; the withdrawal (version 3) denies.
    given = fhir(await hospital.get(f"/fhir/Consent/{plan_id}.0/_history/2"))
    withdrawn = fhir(await hospital.get(f"/fhir/Consent/{plan_id}.0/_history/3"))
    assert "provision" not in given.get("provision", {})
    assert [p["type"] for p in withdrawn["provision"]["provision"]] == ["deny"]
    # A stranger reads no version of them.
    stranger = await client_for("kommun-2580")
    assert (await stranger.get(f"/fhir/Goal/{plan_id}.g1/_history/1")).status_code == 404
