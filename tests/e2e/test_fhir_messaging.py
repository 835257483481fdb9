"""FHIR messaging: the published example message of each event, reliable-messaging dedupe, and
clear refusals. Every response is also checked against the R4 JSON schema (``client_for``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from app.cli import examples
from app.domain.message_events import MessageEvent
from app.fhir import messaging
from app.fhir.common import extension_url
from tests import fhir_medplum, fhir_node, fhir_schema
from tests.conftest import IN_CI, ClientFor, fhir_schema_available
from tests.factories import personnummer

EXAMPLES = examples.EXAMPLES
FHIR = {"Content-Type": "application/fhir+json"}


# The concrete values of the published examples that a test may set, by name.
PUBLISHED = {
    "episode_id": examples.EPISODE,
    "person_id": examples.PERSON,
    "plan_id": examples.PLAN,
    "meeting_id": examples.MEETING,
    "answered_header_id": examples.ANSWERED,
    "personnummer": "19400107-9120",
    "admitted_at": "2026-03-02T08:00:00+01:00",
    "starts_at": "2026-03-19T13:00:00+01:00",
    "reply_by": "2026-03-17",
    "start_date": "2026-03-19",
    "follow_up": "2026-06-18",
}


IDS = ("episode_id", "person_id", "plan_id", "meeting_id", "answered_header_id")


def example(event: str, **values: str) -> dict[str, Any]:
    """The published example of ``event``: new message ids, sent now, with ``values`` set."""
    message = examples.load(EXAMPLES, event)
    header = message["entry"][0]["resource"]
    encounter = next(
        (e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "Encounter"),
        {},
    )
    published = {
        **PUBLISHED,
        "now": message["timestamp"],
        "expected_date": next(
            (x["valueDate"] for x in encounter.get("extension", []) if "valueDate" in x), ""
        ),
    }
    values.setdefault("now", datetime.now(UTC).isoformat())
    text = json.dumps(message)
    for old in (message["id"], header["id"]):
        text = text.replace(old, str(uuid.uuid4()))
    for name, value in values.items():
        if name == "plan_version":
            continue
        old = published[name]
        # Ids are replaced wherever they occur (references too), other values as whole strings;
        # a value the example does not hold is left out, as a template's unused value would be.
        if name in IDS:
            text = text.replace(old, value)
        else:
            text = text.replace(f'"{old}"', json.dumps(value))
    body: dict[str, Any] = json.loads(text)
    if "plan_version" in values:
        body["entry"][1]["resource"]["meta"]["versionId"] = values["plan_version"]
    return body


async def post(http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await http.post("/fhir/$process-message", content=json.dumps(body), headers=FHIR)


def header_of(response: httpx.Response) -> dict[str, Any]:
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "message"
    header: dict[str, Any] = bundle["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    return header


def test_there_is_an_example_for_every_processed_event() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.json")} == set(messaging.HANDLERS)


async def admit_by_message(http: httpx.AsyncClient) -> tuple[str, str]:
    admitted = datetime.now(UTC) - timedelta(days=3)
    body = example(
        "admission-notice",
        personnummer=personnummer(),
        admitted_at=admitted.isoformat(),
        expected_date=(admitted + timedelta(days=5)).date().isoformat(),
        now=(admitted + timedelta(hours=1)).isoformat(),
    )
    response = await post(http, body)
    assert response.status_code == 200, response.text
    header = header_of(response)
    assert header["response"] == {"identifier": body["entry"][0]["resource"]["id"], "code": "ok"}
    episode_id = header["focus"][0]["reference"].removeprefix("Encounter/")
    return episode_id, admitted.isoformat()


async def test_the_discharge_flow_by_messages(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    episode = (await hospital.get(f"/api/v1/episodes/{episode_id}")).json()
    assert (episode["state"], episode["municipality_id"]) == ("planning", "kommun-0880")
    assert episode["primary_care_unit_id"] == "region-kalmar-hc-kalmar"
    person_id = episode["person_id"]
    common = {"episode_id": episode_id, "person_id": person_id, "admitted_at": admitted}
    steps = [
        ("expected-discharge-changed", {"expected_date": "2026-12-24"}),
        ("discharge-ready", {}),
        ("discharge-ready-withdrawn", {}),
        ("discharge-ready", {}),
        ("discharge-notice", {}),
    ]
    for event, extra in steps:
        response = await post(hospital, example(event, **common, **extra))
        assert response.status_code == 200, (event, response.text)
        assert header_of(response)["response"]["code"] == "ok"
    kinds = [
        e["kind"] for e in (await hospital.get(f"/api/v1/episodes/{episode_id}")).json()["events"]
    ]
    assert kinds == [
        "admission-notice",
        "expected-discharge-changed",
        "discharge-ready",
        "discharge-ready-withdrawn",
        "discharge-ready",
        "discharge-notice",
    ]
    encounter = (await hospital.get(f"/fhir/Encounter/{episode_id}")).json()
    assert encounter["status"] == "finished"
    # The municipality acknowledges the discharge notice.
    municipality = await client_for("kommun-0880")
    ack = example("acknowledgement", answered_header_id=str(uuid.uuid4()))
    response = await post(municipality, ack)
    assert response.status_code == 200 and header_of(response)["response"]["code"] == "ok"


async def test_a_repeated_message_is_answered_again_not_processed_again(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    body = example("discharge-ready", episode_id=episode_id, person_id="x", admitted_at=admitted)
    first = await post(hospital, body)
    again = await post(hospital, body)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["x-samverkan-replayed"] == "true"
    episode = (await hospital.get(f"/api/v1/episodes/{episode_id}")).json()
    assert [e["kind"] for e in episode["events"]].count("discharge-ready") == 1
    reused = dict(body)
    reused["entry"] = [dict(body["entry"][0]), body["entry"][1]]
    reused["entry"][0]["resource"] = {**body["entry"][0]["resource"], "id": str(uuid.uuid4())}
    refused = await post(hospital, reused)
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["expression"] == ["Bundle.id"]


async def test_a_message_out_of_order_is_refused_and_can_be_sent_again(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    common = {"episode_id": episode_id, "person_id": "x", "admitted_at": admitted}
    early = example("discharge-ready-withdrawn", **common)
    refused = await post(hospital, early)
    assert refused.status_code == 409, refused.text  # an illegal transition, as on REST
    header = header_of(refused)
    assert header["response"]["code"] == "fatal-error"
    outcome = refused.json()["entry"][1]["resource"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert "discharge-ready" in outcome["issue"][0]["diagnostics"]
    # The discharge-ready notice was sent first but arrives second.
    sent_first = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    ready = example("discharge-ready", **common, now=sent_first)
    assert (await post(hospital, ready)).status_code == 200
    later = await post(hospital, early)  # the same message, now in order
    assert later.status_code == 200 and header_of(later)["response"]["code"] == "ok"


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (lambda b: {"resourceType": "Patient"}, "resourceType"),
        (lambda b: {**b, "type": "collection"}, "Bundle.type"),
        (lambda b: {**b, "id": None}, "Bundle.id"),
        (lambda b: {**b, "entry": b["entry"][1:]}, "Bundle.entry[0]"),
        (
            lambda b: {
                **b,
                "entry": [
                    {
                        "resource": {
                            **b["entry"][0]["resource"],
                            "eventCoding": {"system": messaging.EVENT_SYSTEM, "code": "gossip"},
                        }
                    },
                    *b["entry"][1:],
                ],
            },
            "MessageHeader.eventCoding",
        ),
        (
            lambda b: {
                **b,
                "entry": [
                    b["entry"][0],
                    {"resource": {**b["entry"][1]["resource"], "colour": "blue"}},
                ],
            },
            "Bundle.entry[1].resource.colour",
        ),
    ],
)
async def test_malformed_messages_are_refused_naming_the_element(
    client_for: ClientFor, change: Any, expression: str
) -> None:
    hospital = await client_for("region-kalmar")
    body = example("discharge-ready", episode_id=str(uuid.uuid4()), person_id="x", admitted_at="x")
    body = change(body)
    if body.get("id") is None:
        body.pop("id", None)
    refused = await post(hospital, body)
    assert refused.status_code == 400, refused.text
    issue = refused.json()["issue"][0]
    if expression == "resourceType":  # not an element of a Bundle: named, not as FHIRPath
        assert issue["details"]["text"] == expression and "expression" not in issue, issue
    else:
        assert issue["expression"] == [expression], issue


async def test_a_message_in_another_organizations_name_is_refused(client_for: ClientFor) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    municipality = await client_for("kommun-0880")
    forged = example("discharge-ready", episode_id=episode_id, person_id="x", admitted_at=admitted)
    refused = await post(municipality, forged)
    assert refused.status_code == 403
    assert header_of(refused)["response"]["code"] == "fatal-error"
    stranger = await client_for("kommun-2580")
    body = example("discharge-ready", episode_id=episode_id, person_id="x", admitted_at=admitted)
    body["entry"][0]["resource"]["sender"] = {"reference": "Organization/kommun-2580"}
    hidden = await post(stranger, body)
    assert hidden.status_code == 404 and episode_id in hidden.text


def test_every_event_code_is_processed() -> None:
    assert list(messaging.HANDLERS) == list(MessageEvent)


async def test_a_message_without_its_focus_says_what_is_missing(client_for: ClientFor) -> None:
    municipality = await client_for("kommun-0880")
    body = example("acknowledgement", answered_header_id="x")
    body["entry"][0]["resource"]["eventCoding"]["code"] = "deviation-report"
    refused = await post(municipality, body)
    assert refused.status_code == 422
    outcome = refused.json()["entry"][1]["resource"]
    assert outcome["issue"][0]["expression"] == ["MessageHeader.focus"]
    assert "focuses on a Task" in outcome["issue"][0]["diagnostics"]


async def test_a_new_expected_date_without_the_date_names_the_extension(
    client_for: ClientFor,
) -> None:
    hospital = await client_for("region-kalmar")
    episode_id, admitted = await admit_by_message(hospital)
    body = example(
        "expected-discharge-changed",
        episode_id=episode_id,
        person_id="x",
        admitted_at=admitted,
        expected_date="2026-12-24",
    )
    encounter = body["entry"][1]["resource"]
    kept = [
        e
        for e in encounter.pop("extension", [])
        if not e["url"].endswith("/expected-discharge-date")
    ]
    if kept:  # FHIR JSON leaves an empty array out
        encounter["extension"] = kept
    refused = await post(hospital, body)
    assert refused.status_code == 422, refused.text
    issue = refused.json()["entry"][1]["resource"]["issue"][0]
    assert issue["expression"] == [
        f"Encounter.extension('{extension_url('expected-discharge-date')}')"
    ]
    assert "expected-discharge-changed" in issue["diagnostics"]


async def test_the_capability_statement_declares_messaging(anonymous: httpx.AsyncClient) -> None:
    statement = (await anonymous.get("/fhir/metadata")).json()
    [messaging_entry] = statement["messaging"]
    assert messaging_entry["reliableCache"] == 10080
    assert {m["definition"].rsplit("/", 1)[-1] for m in messaging_entry["supportedMessage"]} == set(
        messaging.HANDLERS
    )
    assert statement["rest"][0]["operation"][0]["name"] == "process-message"


async def plan_for_messages(client_for: ClientFor) -> tuple[str, str]:
    """A person registered by the health centre, with a plan shared with Kalmar kommun."""
    centre = await client_for("region-kalmar-hc-kalmar")
    person = await centre.post(
        "/api/v1/persons",
        json={
            "identifier": {
                "system": "http://electronichealth.se/identifier/personnummer",
                "value": personnummer(),
            },
            "given_name": "Plan",
            "family_name": "Meddelande",
            "residence_municipality_id": "kommun-0880",
        },
    )
    assert person.status_code == 201, person.text
    return person.json()["id"], await examples.shared_plan(centre, person.json()["id"])


async def test_summons_reply_and_revision_by_messages(client_for: ClientFor) -> None:
    centre = await client_for("region-kalmar-hc-kalmar")
    municipality = await client_for("kommun-0880")
    person_id, plan_id = await plan_for_messages(client_for)
    starts = datetime.now(UTC) + timedelta(days=5)
    summons = example(
        "sip-summons",
        plan_id=plan_id,
        person_id=person_id,
        starts_at=starts.isoformat(),
        reply_by=(starts.date() - timedelta(days=1)).isoformat(),
    )
    response = await post(centre, summons)
    assert response.status_code == 200, response.text
    meeting_id = header_of(response)["focus"][0]["reference"].removeprefix("Appointment/")
    meeting = (await centre.get(f"/api/v1/meetings/{meeting_id}")).json()
    assert [(p["id"], p["kind"]) for p in meeting["participants"]] == [
        ("patient", "person"),
        ("hemtjanst", "unit"),
        ("lakare", "staff"),
    ]
    assert meeting["video_link"] == "https://mote.example/sip"

    reply = await post(municipality, example("sip-summons-reply", meeting_id=meeting_id))
    assert reply.status_code == 200, reply.text
    replied = (await municipality.get(f"/api/v1/meetings/{meeting_id}")).json()
    answer = next(p for p in replied["participants"] if p["id"] == "hemtjanst")
    assert answer["reply"] == "declined" and answer["reason"].startswith("Personalen")

    before = (await centre.get(f"/api/v1/plans/{plan_id}")).json()
    revised = example(
        "careplan-revised",
        plan_id=plan_id,
        person_id=person_id,
        plan_version=str(before["version"]),
        start_date=datetime.now(UTC).date().isoformat(),
        follow_up=(datetime.now(UTC).date() + timedelta(days=90)).isoformat(),
    )
    response = await post(centre, revised)
    assert response.status_code == 200, response.text
    plan = (await centre.get(f"/api/v1/plans/{plan_id}")).json()
    assert plan["version"] == before["version"] + 1
    assert plan["title"] == "SIP, reviderad vid uppföljning"
    assert plan["goals"] == [{"id": "hemma", "description": "Bo kvar hemma", "target_date": None}]
    assert plan["coordinator"]["unit_id"] == "kommun-0880-hemtjanst"
    assert plan["interventions"][0]["id"] == "hemtjanst" and plan["needs"] == ["Trygghetslarm"]
    stale = await post(centre, revised | {"id": str(uuid.uuid4())})
    assert stale.status_code == 412 and header_of(stale)["response"]["code"] == "transient-error"


async def test_a_careplan_read_and_sent_back_unchanged_keeps_its_content(
    client_for: ClientFor,
) -> None:
    """The FHIR mapping is its own inverse: read a plan, send it back, nothing changes."""
    centre = await client_for("region-kalmar-hc-kalmar")
    _person_id, plan_id = await plan_for_messages(client_for)
    today = datetime.now(UTC).date()
    full = {
        "title": "SIP, fullständig",
        "goals": [{"id": "g_1", "description": "Klara sig själv", "target_date": None}],
        "resources": ["Maken"],
        "needs": ["Insulin"],
        "interventions": [
            {
                "id": "insulin",
                "description": "Insulin",
                "responsible_unit_id": "kommun-0880-hemsjukvard",
                "frequency": "morgon och kväll",
            }
        ],
        "others": [{"who": "Svea", "relation": "granne", "contribution": "Tittar in"}],
        "responsible_principal_id": "kommun-0880",
        "coordinator": {"name": "Anna", "unit_id": "kommun-0880-hemsjukvard"},
        "start_date": today.isoformat(),
        "planned_end_date": (today + timedelta(days=300)).isoformat(),
        "follow_up_dates": [(today + timedelta(days=60)).isoformat()],
        "basis": [{"kind": "lss-plan", "reference": "LSS 1", "description": None}],
    }
    current = (await centre.get(f"/api/v1/plans/{plan_id}")).json()
    written = await centre.put(
        f"/api/v1/plans/{plan_id}", json=full, headers={"If-Match": f'W/"{current["version"]}"'}
    )
    assert written.status_code == 200, written.text
    before = written.json()
    resource = (await centre.get(f"/fhir/CarePlan/{plan_id}")).json()
    message = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "timestamp": datetime.now(UTC).isoformat(),
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": str(uuid.uuid4()),
                    "eventCoding": {"system": messaging.EVENT_SYSTEM, "code": "careplan-revised"},
                    "source": {"endpoint": "urn:test"},
                    "focus": [{"reference": f"CarePlan/{plan_id}"}],
                },
            },
            {"fullUrl": f"CarePlan/{plan_id}", "resource": resource},
        ],
    }
    response = await post(centre, message)
    assert response.status_code == 200, response.text
    after = (await centre.get(f"/api/v1/plans/{plan_id}")).json()
    assert {k: after[k] for k in full} == {k: before[k] for k in full}
    assert [(b["kind"], b["reference"]) for b in after["basis"]] == [("lss-plan", "LSS 1")]
    # What has no CarePlan element of its own travels in the service's extensions, not in notes.
    assert "note" not in resource
    urls = [e["url"].rsplit("/", 1)[1] for e in resource["extension"]]
    assert urls == [
        "plan-need",
        "plan-resource",
        "plan-other-contribution",
        "plan-basis",
        "follow-up-date",
    ]
    assert after["version"] == before["version"] + 1


def test_the_examples_are_valid_fhir_r4_as_published() -> None:
    published = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]
    assert len(published) == len(MessageEvent)
    for message in published:
        text = json.dumps(message)
        assert "{{" not in text, message["id"]
        Bundle.model_validate(message)
        if fhir_schema_available():
            assert fhir_schema.problems(message) == [], message["id"]
    if fhir_node.available():
        assert fhir_node.problems(published) == []
    elif IN_CI:
        pytest.fail("the npm fhir package is installed by `make test`")
    if fhir_medplum.available():
        assert fhir_medplum.problems(published) == []
    elif IN_CI:
        pytest.fail("the @medplum packages are installed by `make test`")
    # Every id the poster replaces is in the files, so that posting them tells one story.
    every = "".join(json.dumps(m) for m in published)
    for known in (examples.EPISODE, examples.PERSON, examples.PLAN, examples.MEETING):
        assert known in every


@pytest.mark.committing("postgresql")  # reads the outbox
async def test_the_examples_post_in_order_as_samverkan_examples_post_does(
    client_for: ClientFor,
) -> None:
    told: list[examples.Posted] = []
    answered = await examples.post_examples(client_for, EXAMPLES, told.append)
    assert [p.event for p in answered] == list(examples.ORDER) and told == answered
    assert all((p.status, p.code) == (200, "ok") for p in answered), answered
    hospital = await client_for("region-kalmar")
    episode_id = answered[0].focus[0].removeprefix("Encounter/")
    episode = (await hospital.get(f"/api/v1/episodes/{episode_id}")).json()
    assert episode["state"] == "discharged"
    plan_id = answered[-1].focus[0].removeprefix("CarePlan/")
    centre = await client_for("region-kalmar-hc-kalmar")
    plan = (await centre.get(f"/api/v1/plans/{plan_id}")).json()
    assert (
        plan["title"] == "SIP, reviderad vid uppföljning"
        and plan["person_id"] == episode["person_id"]
    )
