"""FHIR search as R4 describes it (issue 16): token and reference forms, comma lists, the
Subscription parameters, AuditEvent dates, CareTeam members, and Bundles without empty arrays.

The last test walks the CapabilityStatement itself: every search parameter it declares for a
resource type is searched, with each declared prefix, against seeded data, and must find (or
leave out) what the table below says. A parameter declared without a row in the table fails it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import ClientFor
from tests.e2e.test_fhir import fhir, story
from tests.e2e.test_plan_scenarios import ok
from tests.factories import PLANNING_ANSWERS, admit, create_person, notice

OWN = "https://samverkan.dev/fhir"
ENDPOINT = "https://receiver.example/samverkan-hook"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PREFIXES = ("eq", "gt", "ge", "lt", "le")


async def ids_of(
    client: httpx.AsyncClient, path: str, params: Any, until: str | None = None
) -> list[str]:
    """The ids of every match, following next links (up to ``until``, when it is found); a
    refusal's diagnostics instead."""
    response = await client.get(path, params=params)
    if response.status_code != 200:
        return [f"refused {response.status_code}: {response.text}"]
    body = fhir(response)
    found = [e["resource"]["id"] for e in body.get("entry", []) if e["search"]["mode"] == "match"]
    while until not in found and (
        link := next((x["url"] for x in body["link"] if x["relation"] == "next"), None)
    ):
        body = fhir(await client.get(link))
        found += [e["resource"]["id"] for e in body.get("entry", [])]
    return found


async def world(client_for: ClientFor, now: datetime) -> dict[str, Any]:
    """The story of test_fhir (told at ``now``), with a reply, a message thread, a deviation
    report, a notice carrying a planning basis and a document, and a subscription: something of
    every type."""
    w = await story(client_for, now)
    w["now"] = now
    hospital = await client_for("region-kalmar")
    municipality = await client_for("kommun-0880")
    w["hospital"], w["municipality"] = hospital, municipality
    statement = fhir(await municipality.get("/fhir/metadata"))
    w["base"] = statement["implementation"]["url"]
    meeting_id = w["meeting"]["id"]
    ok(
        await municipality.post(
            f"/api/v1/meetings/{meeting_id}/replies",
            json={"participant_id": "ht", "reply": "accepted"},
        )
    )
    person_id = w["person"]["id"]
    w["message"] = ok(
        await hospital.post(
            "/api/v1/care-messages",
            json={
                "recipients": ["kommun-0880"],
                "person_id": person_id,
                "category": "discharge",
                "text": "Hemgång fredag.",
            },
        ),
        201,
    )
    w["reply"] = ok(
        await municipality.post(
            "/api/v1/care-messages",
            json={"in_reply_to": w["message"]["id"], "text": "Vi ordnar hemtjänst."},
        ),
        201,
    )
    municipality.headers["X-Samverkan-Unit"] = "kommun-0880-hemsjukvard"
    w["deviation"] = ok(
        await municipality.post(
            "/api/v1/deviations",
            json={
                "category": "missing-discharge-information",
                "episode_id": w["episode"]["id"],
                "description": "Ingen information om såromläggning.",
            },
        ),
        201,
    )
    del municipality.headers["X-Samverkan-Unit"]
    second = await create_person(hospital, municipality="kommun-0880")
    episode = await admit(
        hospital, second["id"], now - timedelta(days=2), unit="region-kalmar-lanssjukhuset-med"
    )
    sent = ok(
        await notice(
            hospital,
            episode["id"],
            "admission-notice",
            now - timedelta(days=1),
            planning_basis={"answers": PLANNING_ANSWERS},
            documents=[
                {
                    "type": "planning-basis",
                    "title": "Planeringsunderlag",
                    "content_type": "application/pdf",
                    "data": __import__("base64").b64encode(PDF).decode(),
                }
            ],
        )
    )
    w["second"], w["episode2"] = second, episode
    (w["basis"],) = sent["planning_basis"]
    (w["document"],) = sent["documents"]
    w["subscription"] = fhir(
        await municipality.post(
            "/fhir/Subscription",
            json={
                "resourceType": "Subscription",
                "status": "requested",
                "reason": "Verksamhetssystemet",
                "criteria": f"{OWN}/SubscriptionTopic/messages",
                "channel": {"type": "rest-hook", "endpoint": ENDPOINT, "payload": FHIR_JSON},
            },
            headers={"Content-Type": FHIR_JSON},
        ),
        201,
    )
    w["organization"] = fhir(await municipality.get("/fhir/Organization/kommun-0880"))
    w["practitioner"] = fhir(
        await municipality.get(f"/fhir/Practitioner/{w['coordinator']['practitioner_id']}")
    )
    w["patient"] = fhir(await hospital.get(f"/fhir/Patient/{person_id}"))
    w["documentreference"] = fhir(
        await municipality.get(f"/fhir/DocumentReference/{w['document']['id']}")
    )
    events = fhir(
        await municipality.get(
            "/fhir/AuditEvent",
            params={"agent": "Organization/kommun-0880", "patient": second["id"], "_count": "1"},
        )
    )
    w["auditevent"] = events["entry"][0]["resource"]
    w["measure"] = fhir(await municipality.get("/fhir/Measure", params={"_count": "1"}))["entry"][
        0
    ]["resource"]
    return w


FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Case:
    """One search: a parameter's value, the resource looked for, and whether it matches."""

    value: str
    wanted: str
    matches: bool = True
    # Other parameters that narrow the search (kept out of a long access log, say).
    also: tuple[tuple[str, str], ...] = ()


Cases = Callable[[dict[str, Any]], list[Case]]


def _day(stamp: str, days: int = 0) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(days=days)
    return moment.astimezone(UTC).date().isoformat()


def _dates(
    moment: Callable[[dict[str, Any]], str],
    key: Callable[[dict[str, Any]], str],
    also: Callable[[dict[str, Any]], tuple[tuple[str, str], ...]] = lambda w: (),
) -> Cases:
    """Every prefix around a resource's one moment (a start equal to its end, or within a day)."""

    def cases(w: dict[str, Any]) -> list[Case]:
        at, wanted, narrow = moment(w), key(w), also(w)
        return [
            Case(f"eq{_day(at)}", wanted, True, narrow),
            Case(f"eq{_day(at, 1)}", wanted, False, narrow),
            Case(f"gt{_day(at, -1)}", wanted, True, narrow),
            Case(f"gt{_day(at, 1)}", wanted, False, narrow),
            Case(f"ge{_day(at)}", wanted, True, narrow),
            Case(f"lt{_day(at, 1)}", wanted, True, narrow),
            Case(f"lt{_day(at)}", wanted, False, narrow),
            Case(f"le{_day(at)}", wanted, True, narrow),
            Case(f"le{_day(at, -1)}", wanted, False, narrow),
        ]

    return cases


def _open(start: Callable[[dict[str, Any]], str], key: Callable[[dict[str, Any]], str]) -> Cases:
    """Every prefix against a period that has begun and not ended (end: not yet known)."""

    def cases(w: dict[str, Any]) -> list[Case]:
        at, wanted = start(w), key(w)
        return [
            Case(f"eq{_day(at)}", wanted, False),  # an open period is not within a day
            Case(f"gt{_day(at, 30)}", wanted),
            Case(f"ge{_day(at)}", wanted),
            Case(f"lt{_day(at, 1)}", wanted),
            Case(f"lt{_day(at, -1)}", wanted, False),
            Case(f"le{_day(at)}", wanted),
            Case(f"le{_day(at, -2)}", wanted, False),
        ]

    return cases


def _id(key: Callable[[dict[str, Any]], str]) -> Cases:
    return lambda w: [
        Case(key(w), key(w)),
        Case(f"unknown-id,{key(w)}", key(w)),
        Case("unknown-id", key(w), False),
    ]


def _person(key: Callable[[dict[str, Any]], str], person: str = "person") -> Cases:
    """patient / subject: Patient/id, a bare id, our URL, a list; another person's finds not."""

    def cases(w: dict[str, Any]) -> list[Case]:
        pid, wanted = w[person]["id"], key(w)
        other = w["second" if person == "person" else "person"]["id"]
        return [
            Case(f"Patient/{pid}", wanted),
            Case(pid, wanted),
            Case(f"{w['base']}/Patient/{pid}", wanted),
            Case(f"Patient/{other},Patient/{pid}", wanted),
            Case(f"Patient/{other}", wanted, False),
        ]

    return cases


def _ref(
    kind: str,
    target: Callable[[dict[str, Any]], str],
    key: Callable[[dict[str, Any]], str],
    other: str | None = None,
) -> Cases:
    def cases(w: dict[str, Any]) -> list[Case]:
        ident, wanted = target(w), key(w)
        found = [
            Case(f"{kind}/{ident}", wanted),
            Case(ident, wanted),
            Case(f"{w['base']}/{kind}/{ident}", wanted),
        ]
        if kind != "Patient":
            # (A person of another server is not one of ours: its id would read as ours.)
            found.append(Case(f"https://elsewhere.example/fhir/{kind}/{ident}", wanted, False))
        if other is not None:
            found += [Case(f"{kind}/{other}", wanted, False), Case(f"{other},{ident}", wanted)]
        return found

    return cases


def _codes(
    system: str | None,
    code: str,
    key: Callable[[dict[str, Any]], str],
    other: str,
    implicit: str | None = None,
) -> Cases:
    """A token: code, system|code, |code (a code element only), a list; another code not."""

    def cases(w: dict[str, Any]) -> list[Case]:
        wanted = key(w)
        found = [
            Case(code, wanted),
            Case(f"{other},{code}", wanted),
            Case(other, wanted, False),
            Case(f"http://unknown.example/cs|{code}", wanted, False),
        ]
        if system is not None:
            found += [Case(f"{system}|{code}", wanted), Case(f"|{code}", wanted, False)]
        if implicit is not None:
            found += [Case(f"{implicit}|{code}", wanted), Case(f"|{code}", wanted)]
        return found

    return cases


def _identifier(resource: str, key: Callable[[dict[str, Any]], str]) -> Cases:
    def cases(w: dict[str, Any]) -> list[Case]:
        given = w[resource]["identifier"][0]
        wanted = key(w)
        return [
            Case(f"{given['system']}|{given['value']}", wanted),
            Case(given["value"], wanted),
            Case(f"{given['system']}|{given['value']},000", wanted),
        ]

    return cases


def _uri(url: str, key: str) -> Cases:
    return lambda w: [Case(url, key), Case(f"{url}-not", key, False)]


def _measure(w: dict[str, Any]) -> str:
    return str(w["measure"]["id"])


def _fhir_status(name: str) -> str:
    return f"http://hl7.org/fhir/{name}"


PERSON = lambda w: w["person"]["id"]  # noqa: E731
PLAN = lambda w: w["plan"]["id"]  # noqa: E731
GOAL = lambda w: f"{w['plan']['id']}.g1"  # noqa: E731
CONSENT = lambda w: f"{w['plan']['id']}.0"  # noqa: E731
EPISODE = lambda w: w["episode"]["id"]  # noqa: E731
MEETING = lambda w: w["meeting"]["id"]  # noqa: E731
REPLY = lambda w: f"{w['meeting']['id']}.ht"  # noqa: E731
ROLE = lambda w: w["coordinator"]["id"]  # noqa: E731
PRACTITIONER = lambda w: w["coordinator"]["practitioner_id"]  # noqa: E731
MESSAGE = lambda w: w["message"]["id"]  # noqa: E731
ANSWER = lambda w: w["reply"]["id"]  # noqa: E731
TASK = lambda w: w["deviation"]["id"]  # noqa: E731
DOCUMENT = lambda w: w["document"]["id"]  # noqa: E731
BASIS = lambda w: w["basis"]["id"]  # noqa: E731
EPISODE2 = lambda w: w["episode2"]["id"]  # noqa: E731
AUDIT = lambda w: w["auditevent"]["id"]  # noqa: E731
SUBSCRIPTION = lambda w: w["subscription"]["id"]  # noqa: E731

# (type, parameter) → the searches that exercise it.
TABLE: dict[tuple[str, str], Cases] = {
    ("Patient", "_id"): _id(PERSON),
    ("Patient", "identifier"): _identifier("patient", PERSON),
    ("Patient", "organization"): _ref(
        "Organization", lambda w: "kommun-0880", PERSON, "kommun-2580"
    ),
    ("Organization", "_id"): _id(lambda w: "kommun-0880"),
    ("Organization", "identifier"): _identifier("organization", lambda w: "kommun-0880"),
    ("Organization", "partof"): _ref(
        "Organization", lambda w: "kommun-0880", lambda w: "kommun-0880-hemtjanst", "kommun-2580"
    ),
    ("Encounter", "_id"): _id(EPISODE),
    ("Encounter", "patient"): _person(EPISODE),
    ("Encounter", "subject"): _person(EPISODE),
    ("Encounter", "status"): _codes(
        None, "in-progress", EPISODE, "finished", _fhir_status("encounter-status")
    ),
    ("Encounter", "date"): _open(lambda w: w["episode"]["admitted_at"], EPISODE),
    ("CarePlan", "_id"): _id(PLAN),
    ("CarePlan", "patient"): _person(PLAN),
    ("CarePlan", "subject"): _person(PLAN),
    ("CarePlan", "status"): _codes(None, "active", PLAN, "draft", _fhir_status("request-status")),
    ("CarePlan", "category"): _codes(f"{OWN}/CodeSystem/plan-category", "SIP", PLAN, "IP"),
    ("CarePlan", "date"): _open(lambda w: w["now"].isoformat(), PLAN),
    ("Goal", "_id"): _id(GOAL),
    ("Goal", "patient"): _person(GOAL),
    ("Goal", "subject"): _person(GOAL),
    ("Goal", "lifecycle-status"): _codes(
        None, "active", GOAL, "cancelled", _fhir_status("goal-status")
    ),
    ("CareTeam", "_id"): _id(PLAN),
    ("CareTeam", "patient"): _person(PLAN),
    ("CareTeam", "subject"): _person(PLAN),
    ("CareTeam", "status"): _codes(
        None, "active", PLAN, "inactive", _fhir_status("care-team-status")
    ),
    ("CareTeam", "participant"): lambda w: [
        *_ref("Organization", lambda w: "kommun-0880", PLAN, "kommun-2580")(w),
        *_ref("PractitionerRole", ROLE, PLAN)(w),
        *_ref("Practitioner", PRACTITIONER, PLAN)(w),
        Case(f"Patient/{w['person']['id']}", PLAN(w), False),
    ],
    ("Practitioner", "_id"): _id(PRACTITIONER),
    ("Practitioner", "name"): lambda w: [
        Case("Sara", PRACTITIONER(w)),
        Case("Nobody-by-that-name", PRACTITIONER(w), False),
    ],
    ("Practitioner", "identifier"): _identifier("practitioner", PRACTITIONER),
    ("PractitionerRole", "_id"): _id(ROLE),
    ("PractitionerRole", "organization"): _ref(
        "Organization", lambda w: "kommun-0880-hemtjanst", ROLE, "kommun-2580"
    ),
    ("PractitionerRole", "practitioner"): _ref("Practitioner", PRACTITIONER, ROLE),
    ("PractitionerRole", "role"): _codes(
        f"{OWN}/CodeSystem/practitioner-role", "coordinator", ROLE, "planner"
    ),
    ("Consent", "_id"): _id(CONSENT),
    ("Consent", "patient"): _person(CONSENT),
    ("Appointment", "_id"): _id(MEETING),
    ("Appointment", "patient"): _person(MEETING),
    ("Appointment", "status"): _codes(
        None, "booked", MEETING, "cancelled", _fhir_status("appointmentstatus")
    ),
    ("Appointment", "supporting-info"): _ref("CarePlan", PLAN, MEETING),
    ("Appointment", "actor"): lambda w: [
        *_ref("Patient", PERSON, MEETING)(w),
        *_ref("Organization", lambda w: "kommun-0880-hemtjanst", MEETING, "kommun-2580")(w),
    ],
    ("Appointment", "date"): _dates(lambda w: w["meeting"]["starts_at"], MEETING),
    ("AppointmentResponse", "_id"): _id(REPLY),
    ("AppointmentResponse", "patient"): _person(REPLY),
    ("AppointmentResponse", "appointment"): _ref("Appointment", MEETING, REPLY),
    ("AppointmentResponse", "part-status"): _codes(
        None, "accepted", REPLY, "declined", _fhir_status("participationstatus")
    ),
    ("Communication", "_id"): _id(MESSAGE),
    ("Communication", "patient"): _person(MESSAGE),
    ("Communication", "subject"): _person(MESSAGE),
    ("Communication", "category"): _codes(
        f"{OWN}/CodeSystem/care-message-category", "discharge", MESSAGE, "medication"
    ),
    ("Communication", "recipient"): _ref("Organization", lambda w: "kommun-0880", MESSAGE),
    ("Communication", "sender"): _ref("Organization", lambda w: "kommun-0880", ANSWER),
    ("Communication", "part-of"): _ref("Communication", MESSAGE, ANSWER),
    ("Task", "_id"): _id(TASK),
    ("Task", "patient"): _person(TASK),
    ("Task", "status"): _codes(None, "requested", TASK, "completed", _fhir_status("task-status")),
    ("Task", "business-status"): _codes(
        f"{OWN}/CodeSystem/deviation-state", "reported", TASK, "closed"
    ),
    ("Task", "code"): _codes(
        f"{OWN}/CodeSystem/deviation-category", "missing-discharge-information", TASK, "other"
    ),
    ("Task", "owner"): lambda w: [Case("Organization/kommun-0880", TASK(w), False)],
    ("Task", "requester"): _ref("Organization", lambda w: "kommun-0880", TASK),
    ("AuditEvent", "_id"): _id(AUDIT),
    ("AuditEvent", "patient"): _person(AUDIT, "second"),
    # The caller's own log is long: narrowed to one person's entries.
    ("AuditEvent", "agent"): lambda w: [
        Case(c.value, c.wanted, c.matches, (("patient", w["second"]["id"]),))
        for c in _ref("Organization", lambda w: "kommun-0880", AUDIT)(w)
    ],
    ("AuditEvent", "date"): _dates(
        lambda w: w["auditevent"]["recorded"], AUDIT, lambda w: (("patient", w["second"]["id"]),)
    ),
    ("DocumentReference", "_id"): _id(DOCUMENT),
    ("DocumentReference", "patient"): _person(DOCUMENT, "second"),
    ("DocumentReference", "subject"): _person(DOCUMENT, "second"),
    ("DocumentReference", "encounter"): _ref("Encounter", EPISODE2, DOCUMENT),
    ("DocumentReference", "type"): _codes(
        f"{OWN}/CodeSystem/document-type", "planning-basis", DOCUMENT, "medication-list"
    ),
    ("DocumentReference", "author"): _ref(
        "Organization",
        lambda w: w["documentreference"]["author"][0]["reference"].split("/")[1],
        DOCUMENT,
        "kommun-2580",
    ),
    ("DocumentReference", "date"): _dates(lambda w: w["documentreference"]["date"], DOCUMENT),
    ("Binary", "_id"): _id(DOCUMENT),
    ("Questionnaire", "_id"): _id(lambda w: "planning-basis"),
    ("Questionnaire", "url"): _uri(f"{OWN}/Questionnaire/planning-basis", "planning-basis"),
    ("Questionnaire", "version"): lambda w: [
        Case("1.0.0", "planning-basis"),
        Case("0.9,1.0.0", "planning-basis"),
        Case("0.9", "planning-basis", False),
    ],
    ("QuestionnaireResponse", "_id"): _id(BASIS),
    ("QuestionnaireResponse", "patient"): _person(BASIS, "second"),
    ("QuestionnaireResponse", "subject"): _person(BASIS, "second"),
    ("QuestionnaireResponse", "encounter"): _ref("Encounter", EPISODE2, BASIS),
    ("CodeSystem", "_id"): _id(lambda w: "message-event"),
    ("CodeSystem", "url"): _uri(f"{OWN}/CodeSystem/message-event", "message-event"),
    ("StructureDefinition", "_id"): _id(lambda w: "reply-by"),
    ("StructureDefinition", "url"): _uri(f"{OWN}/StructureDefinition/reply-by", "reply-by"),
    ("Measure", "_id"): _id(_measure),
    ("Measure", "url"): lambda w: [
        Case(w["measure"]["url"], _measure(w)),
        Case(f"{w['measure']['url']}-not", _measure(w), False),
    ],
    ("Subscription", "_id"): _id(SUBSCRIPTION),
    ("Subscription", "status"): _codes(
        None, "active", SUBSCRIPTION, "off", _fhir_status("subscription-status")
    ),
    ("Subscription", "type"): lambda w: [
        Case("rest-hook", SUBSCRIPTION(w)),
        Case("websocket", SUBSCRIPTION(w), False),
    ],
    ("Subscription", "criteria"): lambda w: [
        Case(f"{OWN}/SubscriptionTopic/", SUBSCRIPTION(w)),
        Case(f"{OWN}/SubscriptionTopic/discharge-ready", SUBSCRIPTION(w), False),
    ],
    ("Subscription", "url"): lambda w: [
        Case(ENDPOINT, SUBSCRIPTION(w)),
        Case(f"{ENDPOINT}/other", SUBSCRIPTION(w), False),
    ],
}


def declared(statement: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (resource["type"], param["name"]): param
        for resource in statement["rest"][0]["resource"]
        for param in resource.get("searchParam", [])
    }


async def test_every_declared_parameter_finds_what_it_says(
    client_for: ClientFor, now: datetime
) -> None:
    w = await world(client_for, now)
    municipality = w["municipality"]
    statement = fhir(await municipality.get("/fhir/metadata"))
    params = declared(statement)
    missing = sorted(set(params) - set(TABLE))
    assert missing == [], f"declared search parameters without a case in TABLE: {missing}"
    assert sorted(set(TABLE) - set(params)) == [], "TABLE rows for undeclared parameters"
    wrong: list[str] = []
    for (kind, name), param in params.items():
        cases = TABLE[(kind, name)](w)
        assert cases, (kind, name)
        if param["type"] == "date":
            # Each prefix the declaration names is exercised.
            for prefix in PREFIXES:
                assert prefix in param["documentation"], (kind, name, prefix)
                assert any(c.value.startswith(prefix) for c in cases), (kind, name, prefix)
        for case in cases:
            query = {name: case.value, "_count": "200", **dict(case.also)}
            found = await ids_of(
                municipality, f"/fhir/{kind}", query, case.wanted if case.matches else None
            )
            if (case.wanted in found) != case.matches:
                wrong.append(f"{kind}?{name}={case.value}: {case.wanted} {found[:5]}")
    assert wrong == []


async def test_an_id_list_matches_either_id(client_for: ClientFor, now: datetime) -> None:
    w = await world(client_for, now)
    hospital = w["hospital"]
    both = f"{w['person']['id']},{w['second']['id']}"
    found = await ids_of(hospital, "/fhir/Patient", {"_id": both})
    assert sorted(found) == sorted([w["person"]["id"], w["second"]["id"]])
    # A list pages by id like any other search, without repeating or skipping.
    first = fhir(await hospital.get("/fhir/Patient", params={"_id": both, "_count": "1"}))
    assert len(first["entry"]) == 1
    assert await ids_of(hospital, "/fhir/Patient", {"_id": both, "_count": "1"}) == sorted(found)


async def test_references_name_their_type_or_match_nothing(
    client_for: ClientFor, now: datetime
) -> None:
    w = await world(client_for, now)
    municipality = w["municipality"]
    person_id = w["person"]["id"]
    # patient names only Patients: another type is refused, naming the parameter.
    refused = fhir(await municipality.get("/fhir/CarePlan", params={"patient": "Encounter/1"}), 422)
    assert refused["issue"][0]["details"]["text"] == "patient"
    # participant names several types: a Patient is not one, so nothing matches.
    none = fhir(
        await municipality.get("/fhir/CareTeam", params={"participant": f"Patient/{person_id}"})
    )
    assert "entry" not in none and none["total"] == 0
    residents = await ids_of(
        municipality, "/fhir/Patient", {"organization": "Organization/kommun-0880"}
    )
    assert person_id in residents


async def test_token_values_with_and_without_a_system(client_for: ClientFor, now: datetime) -> None:
    w = await world(client_for, now)
    municipality = w["municipality"]
    identifier = w["patient"]["identifier"][0]
    for value in (identifier["value"], f"{identifier['system']}|{identifier['value']}"):
        found = await ids_of(municipality, "/fhir/Patient", {"identifier": value})
        assert found == [w["person"]["id"]], value
    # A bare value that is no valid number in any system finds nothing, and is not refused.
    assert await ids_of(municipality, "/fhir/Patient", {"identifier": "123"}) == []
    plan_id = w["plan"]["id"]
    for value in ("SIP", f"{OWN}/CodeSystem/plan-category|SIP", "IP,SIP"):
        assert plan_id in await ids_of(municipality, "/fhir/CarePlan", {"category": value})
    for value in ("|SIP", "http://other.example|SIP"):
        assert plan_id not in await ids_of(municipality, "/fhir/CarePlan", {"category": value})
    for value in ("|active", "draft,active", "http://hl7.org/fhir/request-status|active"):
        assert plan_id in await ids_of(municipality, "/fhir/CarePlan", {"status": value})


async def test_care_team_members_of_every_type_are_searched_and_included(
    client_for: ClientFor,
    now: datetime,
) -> None:
    w = await world(client_for, now)
    municipality = w["municipality"]
    plan_id, role = w["plan"]["id"], w["coordinator"]
    for member in (
        f"PractitionerRole/{role['id']}",
        f"Practitioner/{role['practitioner_id']}",
        "Organization/kommun-0880",
        "Organization/kommun-0880-hemtjanst",  # the coordinator acts for it
    ):
        assert plan_id in await ids_of(municipality, "/fhir/CareTeam", {"participant": member})
    teams = fhir(
        await municipality.get(
            "/fhir/CareTeam",
            params={"_id": plan_id, "_include": "CareTeam:participant"},
        )
    )
    included = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in teams["entry"]
        if e["search"]["mode"] == "include"
    }
    assert f"PractitionerRole/{role['id']}" in included
    assert {"Organization/kommun-0880", "Organization/region-kalmar"} <= included


async def test_appointment_actors_of_each_declared_type(
    client_for: ClientFor, now: datetime
) -> None:
    w = await world(client_for, now)
    municipality, meeting_id = w["municipality"], w["meeting"]["id"]
    for actor in (f"Patient/{w['person']['id']}", "Organization/kommun-0880-hemtjanst"):
        assert meeting_id in await ids_of(municipality, "/fhir/Appointment", {"actor": actor})
    assert meeting_id not in await ids_of(
        municipality, "/fhir/Appointment", {"actor": "Organization/kommun-2580"}
    )


async def test_audit_events_by_date_with_every_prefix(client_for: ClientFor, now: datetime) -> None:
    w = await world(client_for, now)
    municipality = w["municipality"]
    event = w["auditevent"]
    at = event["recorded"]
    later = (datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(seconds=1)).isoformat()
    expected = {
        f"eq{at}": True,
        f"ge{at}": True,
        f"le{at}": True,
        f"gt{at}": False,
        f"lt{at}": False,
        f"lt{later}": True,
        f"gt{later}": False,
    }
    for value, matches in expected.items():
        query = {"date": value, "patient": w["second"]["id"], "_count": "200"}
        found = await ids_of(municipality, "/fhir/AuditEvent", query)
        assert (event["id"] in found) == matches, value


async def test_subscriptions_are_searched_by_their_declared_parameters(
    client_for: ClientFor,
    now: datetime,
) -> None:
    w = await world(client_for, now)
    municipality = w["municipality"]
    statement = fhir(await municipality.get("/fhir/metadata"))
    [entry] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription"]
    assert {p["name"] for p in entry["searchParam"]} == {"_id", "status", "type", "criteria", "url"}
    mine = w["subscription"]["id"]
    assert await ids_of(municipality, "/fhir/Subscription", {"url": ENDPOINT}) == [mine]
    off = fhir(await municipality.get("/fhir/Subscription", params={"status": "off"}))
    assert "entry" not in off
    for strictness in ({}, {"Prefer": "handling=strict"}):
        refused = fhir(
            await municipality.get(
                "/fhir/Subscription", params={"colour": "blue"}, headers=strictness
            ),
            422,
        )
        assert refused["issue"][0]["details"]["text"] == "colour"


async def test_bundles_never_carry_an_empty_entry_array(
    client_for: ClientFor, now: datetime
) -> None:
    hospital = await client_for("region-kalmar")
    empty = fhir(await hospital.get("/fhir/CarePlan", params={"_id": "no-such-plan"}))
    assert "entry" not in empty and empty["total"] == 0
    future = (now + timedelta(days=1)).isoformat()
    history = fhir(await hospital.get("/fhir/CarePlan/_history", params={"_since": future}))
    assert history["type"] == "history" and "entry" not in history
    answer = fhir(
        await hospital.post(
            "/fhir",
            json={"resourceType": "Bundle", "type": "batch"},
            headers={"Content-Type": FHIR_JSON},
        )
    )
    assert answer["type"] == "batch-response" and "entry" not in answer
