"""Pushes to a subscriber's endpoint: a real HTTP server on loopback, the real dispatcher.

Every event arrives, in order per episode, none is lost; the bodies are signed; an endpoint that
is down puts its subscription in error, which keeps counting events and recovers; after the last
attempt a push is a dead letter that an operator can replay.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_correlation_id import CorrelationIdFilter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from app.security.scopes import METRICS_SCOPE
from app.settings import Settings
from tests import fhir_medplum, fhir_schema
from tests.conftest import ClientFor
from tests.factories import admit, create_person, notice
from tests.receiver import Push, dispatch_all, dispatch_until, fast, running_receiver

# Committing on PostgreSQL: it reads the outbox, whose readers pass only rows of transactions
# older than every running one, which a rolled-back test's own transaction never is.
pytestmark = pytest.mark.committing("postgresql")

STEPS = (
    ("admission-notice", {}),
    ("discharge-ready", {}),
    ("withdrawal", {}),
    ("discharge-ready", {}),
    ("discharge", {}),
)
EVENTS = [
    "admission-notice",
    "discharge-ready",
    "discharge-ready-withdrawn",
    "discharge-ready",
    "discharge-notice",
]


@pytest.fixture
def t0(now: datetime) -> datetime:
    """Two days before the test's now: when its story begins."""
    return now - timedelta(days=2)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def subscribe(http: httpx.AsyncClient, endpoint: str, **extra: Any) -> dict[str, Any]:
    body = {"topic": "messages", "endpoint": endpoint, **extra}
    return ok(await http.post("/api/v1/subscriptions", json=body), 201)


async def episodes_with_notices(
    hospital: httpx.AsyncClient,
    count: int,
    admitted: datetime,
    steps: tuple[tuple[str, dict[str, Any]], ...] = STEPS,
) -> list[str]:
    """Admit ``count`` persons at ``admitted`` and send each episode's notices an hour apart,
    interleaving the episodes."""
    ids = []
    for _ in range(count):
        person = await create_person(hospital)
        ids.append((await admit(hospital, person["id"], admitted))["id"])
    for hours, (kind, extra) in enumerate(steps, start=1):
        for episode_id in ids:
            sent = await notice(
                hospital, episode_id, kind, admitted + timedelta(hours=hours), **extra
            )
            assert sent.status_code == 200, sent.text
    return ids


def by_stream(pushes: list[Push]) -> dict[str, list[str]]:
    streams: dict[str, list[str]] = defaultdict(list)
    for push in pushes:
        streams[push.focus].append(push.event)
    return dict(streams)


def ok_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.text


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.committing  # the dispatcher pushes several at once
async def test_every_event_arrives_in_order_signed_despite_failures(
    caplog: pytest.LogCaptureFixture,
    client: httpx.AsyncClient,
    municipality: httpx.AsyncClient,
    client_for: ClientFor,
    engine: AsyncEngine,
    settings: Settings,
    t0: datetime,
) -> None:
    caplog.set_level(logging.INFO, logger="app.delivery")
    # The request id is carried as the service's log configuration carries it.
    caplog.handler.addFilter(CorrelationIdFilter())
    scraper = await client_for("region-norrbotten", METRICS_SCOPE)
    before = metric_values(ok_text(await scraper.get("/metrics")))
    with running_receiver(fail_first=7) as receiver:
        subscription = await subscribe(municipality, receiver.url)
        episodes = await episodes_with_notices(client, 3, t0)
        person = await create_person(client)
        fourth = (await admit(client, person["id"], t0))["id"]
        traced = await client.post(
            f"/api/v1/episodes/{fourth}/admission-notice",
            json={},
            headers={"X-Request-ID": "trace-intake-to-delivery"},
        )
        assert traced.status_code == 200, traced.text
        total = 3 * len(STEPS) + 1
        await dispatch_until(
            engine, fast(settings), lambda: len(receiver.first_accepted()) == total
        )
        await dispatch_all(engine, fast(settings))

    first = receiver.first_accepted()
    # Every event of the municipality's inbox arrived, once each; none is missing.
    inbox = ok(await municipality.get("/api/v1/inbox", params={"limit": 200}))["items"]
    assert sorted(p.event_id or "" for p in first) == sorted(i["event_id"] for i in inbox)
    assert len(receiver.accepted()) == total, "no event was accepted twice without a crash"
    # In order per episode, though the first seven pushes were refused.
    streams = by_stream(first)
    assert {s: e for s, e in streams.items()} == {
        f"Encounter/{episodes[0]}": EVENTS,
        f"Encounter/{episodes[1]}": EVENTS,
        f"Encounter/{episodes[2]}": EVENTS,
        f"Encounter/{fourth}": ["admission-notice"],
    }
    assert sum(1 for p in receiver.pushes if not p.accepted) == 7
    # Every push, refused ones too, is signed with the subscription's secret, and only with it.
    assert all(p.signed_with(subscription["secret"]) for p in receiver.pushes)
    assert not first[0].signed_with("another secret")
    # The event numbers are the subscription's sequence, and stay with their event.
    assert sorted(p.event_number for p in first) == list(range(1, total + 1))
    for push in receiver.accepted():
        assert push.event_number == next(
            p.event_number for p in first if p.event_id == push.event_id
        )
    # The request id of the intake travels with the event to the receiver.
    traced_push = next(p for p in first if p.focus == f"Encounter/{fourth}")
    assert traced_push.headers["x-request-id"] == "trace-intake-to-delivery"
    # A push that names a person is in the person's access log, as the receiver's reading.
    extract = await client_for("region-norrbotten", scopes="system/*.cruds samverkan/log-extract")
    log = ok(await extract.get("/api/v1/access-log", params={"person_id": person["id"]}))
    pushed = [e for e in log["items"] if e["client_id"] == f"subscription:{subscription['id']}"]
    assert [
        (e["organization_id"], e["action"], e["resource_id"], e["request_id"]) for e in pushed
    ] == [("kommun-2580", "read", traced_push.event_id, "trace-intake-to-delivery")]
    # The logs follow it too, from the intake to the delivery.
    traced_logs = [
        r.getMessage()
        for r in caplog.records
        if getattr(r, "event_id", None) == traced_push.event_id
    ]
    assert traced_logs[0] == "event queued" and traced_logs[-1] == "delivered"
    assert all(
        r.correlation_id == "trace-intake-to-delivery"  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "event_id", None) == traced_push.event_id
    )
    if fhir_schema.schema_path().exists():
        for push in first[:3]:
            assert fhir_schema.problems(push.bundle) == []
    if fhir_medplum.available():
        assert fhir_medplum.problems([push.bundle for push in first[:3]]) == []

    status = ok(await municipality.get(f"/api/v1/subscriptions/{subscription['id']}/status"))
    assert status["status"] == "active"
    assert status["events_since_subscription_start"] == total
    assert status["pending"] == 0

    after = metric_values(ok_text(await scraper.get("/metrics")))

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("samverkan_delivery_attempts_total", result="success") == total
    assert grew("samverkan_delivery_attempts_total", result="failure") == 7
    assert grew("samverkan_delivery_failures_total", reason="http-status") == 7
    assert grew("samverkan_delivery_lag_seconds_count", event="discharge-ready") == 6
    assert after[("samverkan_deliveries", (("state", "delivered"),))] == total
    assert after[("samverkan_deliveries", (("state", "pending"),))] == 0


async def test_a_subscription_whose_endpoint_is_down_is_in_error_counts_and_recovers(
    client: httpx.AsyncClient,
    municipality: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    t0: datetime,
) -> None:
    with running_receiver(down=True) as receiver:
        subscription = await subscribe(municipality, receiver.url)
        status_path = f"/api/v1/subscriptions/{subscription['id']}/status"
        (episode,) = await episodes_with_notices(client, 1, t0, STEPS[:1])
        await dispatch_until(engine, fast(settings), lambda: len(receiver.pushes) >= 2)
        status = ok(await municipality.get(status_path))
        assert status["status"] == "error" and status["last_error"] == "HTTP 503"
        assert (status["events_since_subscription_start"], status["pending"]) == (1, 1)
        fhir_status = ok(await municipality.get(f"/fhir/Subscription/{subscription['id']}/$status"))
        parameters = {p["name"]: p for p in fhir_status["entry"][0]["resource"]["parameter"]}
        assert parameters["status"]["valueCode"] == "error"
        assert parameters["error"]["valueCodeableConcept"]["text"] == "HTTP 503"
        resource = ok(await municipality.get(f"/fhir/Subscription/{subscription['id']}"))
        assert (resource["status"], resource["error"]) == ("error", "HTTP 503")

        # While in error it keeps counting what it will be sent.
        for hours, kind in ((2, "discharge-ready"), (3, "discharge")):
            sent = await notice(client, episode, kind, t0 + timedelta(hours=hours))
            assert sent.status_code == 200, sent.text
        status = ok(await municipality.get(status_path))
        assert (status["status"], status["events_since_subscription_start"]) == ("error", 3)
        assert status["pending"] == 3

        receiver.down = False
        await dispatch_until(engine, fast(settings), lambda: len(receiver.first_accepted()) == 3)
    assert [p.event for p in receiver.first_accepted()] == [
        "admission-notice",
        "discharge-ready",
        "discharge-notice",
    ]
    assert [p.event_number for p in receiver.first_accepted()] == [1, 2, 3]
    status = ok(await municipality.get(status_path))
    assert (status["status"], status["last_error"], status["pending"]) == ("active", None, 0)


async def test_dead_letters_are_listed_and_replayed(
    client: httpx.AsyncClient,
    municipality: httpx.AsyncClient,
    client_for: ClientFor,
    engine: AsyncEngine,
    settings: Settings,
    t0: datetime,
) -> None:
    admin = await client_for("region-norrbotten", scopes="samverkan/admin")
    with running_receiver(down=True) as receiver:
        subscription = await subscribe(municipality, receiver.url)
        await episodes_with_notices(client, 1, t0, STEPS[:2])
        await dispatch_until(
            engine, fast(settings, delivery_max_attempts=2), lambda: len(receiver.pushes) == 4
        )
        await dispatch_all(engine, fast(settings, delivery_max_attempts=2))
        assert len(receiver.pushes) == 4, "two events, two attempts each, then no more"
        dead = ok(await admin.get("/api/v1/admin/dead-letters"))["items"]
        assert [(d["event"], d["attempts"], d["last_error"]) for d in dead] == [
            ("admission-notice", 2, "HTTP 503"),
            ("discharge-ready", 2, "HTTP 503"),
        ]
        assert {d["subscription_id"] for d in dead} == {subscription["id"]}
        assert "person_id" not in dead[0]
        assert (await municipality.get("/api/v1/admin/dead-letters")).status_code == 403

        receiver.down = False
        refused = await admin.post("/api/v1/admin/dead-letters/replay", json={})
        assert refused.status_code == 422, refused.text
        one = ok(
            await admin.post(
                "/api/v1/admin/dead-letters/replay", json={"delivery_ids": [dead[0]["id"]]}
            )
        )
        assert one == {"replayed": 1}
        rest = ok(
            await admin.post(
                "/api/v1/admin/dead-letters/replay", json={"subscription_id": subscription["id"]}
            )
        )
        assert rest == {"replayed": 1}
        await dispatch_until(engine, fast(settings), lambda: len(receiver.first_accepted()) == 2)
    assert [p.event for p in receiver.first_accepted()] == ["admission-notice", "discharge-ready"]
    assert ok(await admin.get("/api/v1/admin/dead-letters"))["items"] == []


async def test_subscriptions_belong_to_their_organization_and_filter_by_patient(
    client: httpx.AsyncClient,
    municipality: httpx.AsyncClient,
    client_for: ClientFor,
    engine: AsyncEngine,
    settings: Settings,
    t0: datetime,
) -> None:
    watched = await create_person(client)
    other = await create_person(client)
    # The admissions make the municipality a receiver: a part in these persons' care.
    admitted = {p["id"]: (await admit(client, p["id"], t0))["id"] for p in (watched, other)}
    stranger = await client_for("kommun-0880")
    bad = await municipality.post(
        "/api/v1/subscriptions", json={"topic": "messages", "endpoint": "ftp://example.org/x"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "endpoint", bad.text
    unknown_topic = await municipality.post(
        "/api/v1/subscriptions", json={"topic": "everything", "endpoint": "https://example.org"}
    )
    assert unknown_topic.json()["errors"][0]["field"] == "topic"
    # A stranger cannot narrow a subscription to a person it has no part in.
    foreign = await stranger.post(
        "/api/v1/subscriptions",
        json={"topic": "messages", "endpoint": "https://example.org", "patient_id": watched["id"]},
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "patient_id"

    with running_receiver() as receiver:
        subscription = await subscribe(
            municipality, receiver.url, topic="discharge-ready", patient_id=watched["id"]
        )
        assert "secret" not in ok(
            await municipality.get(f"/api/v1/subscriptions/{subscription['id']}")
        )
        assert (
            await stranger.get(f"/api/v1/subscriptions/{subscription['id']}")
        ).status_code == 404
        assert (
            await stranger.delete(f"/api/v1/subscriptions/{subscription['id']}")
        ).status_code == 404
        assert ok(await stranger.get("/api/v1/subscriptions"))["items"] == []
        listed = ok(await municipality.get("/api/v1/subscriptions"))["items"]
        assert [s["id"] for s in listed] == [subscription["id"]]

        for episode_id in admitted.values():
            sent = await notice(client, episode_id, "admission-notice", t0)
            assert sent.status_code == 200, sent.text
        await dispatch_all(engine, fast(settings))
        assert [p.header["focus"][1]["reference"] for p in receiver.accepted()] == [
            f"Patient/{watched['id']}"
        ]

        gone = await municipality.delete(f"/api/v1/subscriptions/{subscription['id']}")
        assert gone.status_code == 204
        assert (
            await municipality.get(f"/api/v1/subscriptions/{subscription['id']}")
        ).status_code == 404
        later = await notice(
            client, admitted[watched["id"]], "discharge-ready", t0 + timedelta(hours=6)
        )
        assert later.status_code == 200, later.text
        await dispatch_all(engine, fast(settings))
        assert len(receiver.accepted()) == 1, "an ended subscription is not pushed to"
    # The inbox has everything, subscription or not.
    inbox = ok(await municipality.get("/api/v1/inbox", params={"person_id": watched["id"]}))
    assert [i["event"] for i in inbox["items"]] == ["admission-notice", "discharge-ready"]


async def test_an_endpoint_that_answers_too_slowly_times_out(
    client: httpx.AsyncClient,
    municipality: httpx.AsyncClient,
    client_for: ClientFor,
    engine: AsyncEngine,
    settings: Settings,
    t0: datetime,
) -> None:
    admin = await client_for("region-norrbotten", scopes="samverkan/admin")
    slow = fast(settings, delivery_timeout_seconds=0.3, delivery_max_attempts=1)
    with running_receiver(delay=1.0) as receiver:
        subscription = await subscribe(municipality, receiver.url)
        await episodes_with_notices(client, 1, t0, STEPS[:1])
        started = datetime.now(UTC)
        await dispatch_all(engine, slow)
        assert datetime.now(UTC) - started < timedelta(seconds=0.9), "the attempt was not cut"
    dead = ok(await admin.get("/api/v1/admin/dead-letters"))["items"]
    assert [(d["event"], d["last_error"]) for d in dead] == [("admission-notice", "timeout")]
    status = ok(await municipality.get(f"/api/v1/subscriptions/{subscription['id']}/status"))
    assert (status["status"], status["last_error"]) == ("error", "timeout")
