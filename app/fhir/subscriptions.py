"""FHIR ``Subscription``, topic-based as the R4 Subscriptions Backport IG defines it.

https://hl7.org/fhir/uv/subscriptions-backport/STU1.1/ — in R4 the topic's canonical URL is
``Subscription.criteria``, a filter is the ``backport-filter-criteria`` extension on it
(``Encounter?patient=Patient/<id>``), the channel is ``rest-hook`` with ``backport-payload-content``
(``empty`` or ``id-only``) and ``backport-heartbeat-period``; ``$status`` answers a Bundle with a
SubscriptionStatus ``Parameters``. The topics are the service's own:
``https://samverkan.dev/fhir/SubscriptionTopic/discharge-ready``, ``…/plan-changes`` and
``…/messages``.

These are the REST API's subscriptions (``/api/v1/subscriptions``), through the same services. The
signing secret is returned once, in the created resource's ``signing-secret`` extension.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.subscription import Subscription as SubscriptionResource
from starlette.responses import Response

from app.domain.delivery import PayloadContent, SubscriptionStatus, Topic, topic_url
from app.domain.errors import InvalidInput
from app.domain.outbox import Subscription
from app.domain.values import parse_int
from app.fhir import subscription_search
from app.fhir.common import FHIR_JSON, extension_url, instant
from app.fhir.cursors import cursor_position
from app.fhir.notifications import BACKPORT
from app.fhir.outcome import fhir_response, read_body
from app.fhir.parse import search_reference_id
from app.fhir.search import ignored_outcome, lenient, links_of
from app.fhir.writes import validate_as
from app.http.deps import NowDep, SettingsDep, UowDep, require
from app.http.routing import UnitOfWorkRoute
from app.security.access import Actor
from app.services import subscriptions as service
from app.settings import Environment

api = APIRouter(prefix="/fhir/Subscription", tags=["FHIR"], route_class=UnitOfWorkRoute)

SUBSCRIPTION_PROFILE = f"{BACKPORT}/backport-subscription"
FILTER_CRITERIA = f"{BACKPORT}/backport-filter-criteria"
PAYLOAD_CONTENT = f"{BACKPORT}/backport-payload-content"
HEARTBEAT_PERIOD = f"{BACKPORT}/backport-heartbeat-period"
SIGNING_SECRET = extension_url("signing-secret")
TOPICS = {topic_url(topic): topic for topic in Topic}
# The resource type a topic's filter criteria are written against.
FILTERED_TYPE = {
    Topic.DISCHARGE_READY: "Encounter",
    Topic.PLAN_CHANGES: "CarePlan",
    Topic.MESSAGES: "MessageHeader",
}

Creator = Annotated[Actor, Depends(require("Subscription", "c"))]
Reader = Annotated[Actor, Depends(require("Subscription", "r"))]
Searcher = Annotated[Actor, Depends(require("Subscription", "s"))]
Deleter = Annotated[Actor, Depends(require("Subscription", "d"))]


def capability() -> dict[str, Any]:
    """The CapabilityStatement's entry for Subscription, with the topics it supports."""
    return {
        "type": "Subscription",
        "extension": [
            {
                "url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
                "capabilitystatement-subscriptiontopic-canonical",
                "valueCanonical": url,
            }
            for url in TOPICS
        ],
        "supportedProfile": [SUBSCRIPTION_PROFILE],
        "documentation": "Topic-based rest-hook subscriptions (R4 Subscriptions Backport IG) of "
        "the caller's organization; notifications are signed with HMAC-SHA256 "
        "(X-Samverkan-Signature). Operation $status on an instance.",
        "interaction": [
            {"code": "read"},
            {"code": "search-type"},
            {"code": "create"},
            {"code": "delete"},
        ],
        "searchParam": subscription_search.declared(),
        "operation": [
            {
                "name": "status",
                "definition": "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/"
                "backport-subscription-status",
            }
        ],
    }


def _extension(extensions: list[Extension] | None, url: str) -> Extension | None:
    return next((e for e in extensions or [] if e.url == url), None)


def _patient_filter(resource: SubscriptionResource, topic: Topic) -> str | None:
    """The patient a ``backport-filter-criteria`` narrows to: ``[Type?]patient=Patient/<id>``."""
    criteria = resource.criteria__ext
    found = _extension(criteria.extension if criteria is not None else None, FILTER_CRITERIA)
    if found is None:
        return None
    value = str(found.valueString or "")
    kind, sep, query = value.rpartition("?")
    name, _eq, reference = query.partition("=")
    if (sep and kind != FILTERED_TYPE[topic]) or name != "patient" or not reference:
        raise InvalidInput(
            f"the filter criteria of {topic_url(topic)} are {FILTERED_TYPE[topic]}?patient="
            "Patient/<id>",
            field="Subscription.criteria.extension",
        )
    return search_reference_id(reference, "Patient", "Subscription.criteria.extension")


def from_fhir(resource: SubscriptionResource) -> service.NewSubscription:
    """The subscription a backport Subscription resource asks for."""
    topic = TOPICS.get(str(resource.criteria))
    if topic is None:
        raise InvalidInput(
            f"Subscription.criteria is one of the SubscriptionTopics {', '.join(TOPICS)}",
            field="Subscription.criteria",
        )
    channel = resource.channel
    if channel.type != "rest-hook":
        raise InvalidInput("the channel type is rest-hook", field="Subscription.channel.type")
    if not channel.endpoint:
        raise InvalidInput(
            "a rest-hook channel names its endpoint", field="Subscription.channel.endpoint"
        )
    if channel.payload not in (None, FHIR_JSON):
        raise InvalidInput(
            f"notifications are sent as {FHIR_JSON}", field="Subscription.channel.payload"
        )
    payload = channel.payload__ext
    content = _extension(payload.extension if payload is not None else None, PAYLOAD_CONTENT)
    code = (content.valueCode if content is not None else None) or PayloadContent.ID_ONLY.value
    if code not in {c.value for c in PayloadContent}:
        raise InvalidInput(
            "payload content is empty or id-only (full-resource is not sent: notifications "
            "carry references, the receiver reads what it may see)",
            field="Subscription.channel.payload.extension",
        )
    heartbeat = _extension(channel.extension, HEARTBEAT_PERIOD)
    period = heartbeat.valueUnsignedInt if heartbeat is not None else None
    if heartbeat is not None and (period is None or not 1 <= period <= 86400):
        raise InvalidInput(
            "the heartbeat period is 1 to 86400 seconds", field="Subscription.channel.extension"
        )
    return service.NewSubscription(
        topic=topic,
        endpoint=str(channel.endpoint),
        patient_id=_patient_filter(resource, topic),
        content=PayloadContent(code),
        heartbeat_seconds=period,
    )


def to_fhir(subscription: Subscription, *, secret: bool = False) -> dict[str, Any]:
    """A subscription as a backport Subscription resource (the secret only when asked)."""
    channel: dict[str, Any] = {
        "type": "rest-hook",
        "endpoint": subscription.endpoint,
        "payload": FHIR_JSON,
        "_payload": {
            "extension": [{"url": PAYLOAD_CONTENT, "valueCode": subscription.content.value}]
        },
    }
    if subscription.heartbeat_seconds is not None:
        channel["extension"] = [
            {"url": HEARTBEAT_PERIOD, "valueUnsignedInt": subscription.heartbeat_seconds}
        ]
    resource: dict[str, Any] = {
        "resourceType": "Subscription",
        "id": subscription.id,
        "meta": {"profile": [SUBSCRIPTION_PROFILE]},
        "status": subscription.status.value,
        "reason": f"{subscription.topic.value} for Organization/{subscription.organization_id}",
        "criteria": topic_url(subscription.topic),
        "channel": channel,
    }
    if subscription.patient_id is not None:
        resource["_criteria"] = {
            "extension": [
                {
                    "url": FILTER_CRITERIA,
                    "valueString": f"{FILTERED_TYPE[subscription.topic]}?patient=Patient/"
                    f"{subscription.patient_id}",
                }
            ]
        }
    if subscription.status is SubscriptionStatus.ERROR and subscription.last_error:
        resource["error"] = subscription.last_error
    if secret:
        resource["extension"] = [{"url": SIGNING_SECRET, "valueString": subscription.secret}]
    return resource


@api.post(
    "",
    summary="Create a Subscription (R4 Subscriptions Backport IG)",
    responses={
        409: {
            "description": "The organization already has as many live subscriptions as it may "
            "(`SAMVERKAN_MAX_SUBSCRIPTIONS_PER_ORGANIZATION`): an OperationOutcome",
            "content": {FHIR_JSON: {}},
        }
    },
)
async def create_fhir_subscription(
    actor: Creator, uow: UowDep, request: Request, settings: SettingsDep, now: NowDep
) -> Response:
    """Register a rest-hook subscription to a topic; the answer holds the signing secret."""
    resource = validate_as(await read_body(request), SubscriptionResource)
    subscription = await service.create_subscription(
        uow,
        actor,
        from_fhir(resource),
        now=now,
        https_only=settings.environment is Environment.PRODUCTION,
        limit=settings.max_subscriptions_per_organization,
        endpoint_field="Subscription.channel.endpoint",
        patient_field="Subscription.criteria.extension",
    )
    location = f"{settings.issuer}/fhir/Subscription/{subscription.id}"
    return fhir_response(
        to_fhir(subscription, secret=True), status=201, headers={"Location": location}
    )


@api.get(
    "",
    summary="Search the caller's Subscriptions",
    openapi_extra={"parameters": subscription_search.openapi_parameters()},
)
async def search_fhir_subscriptions(
    actor: Searcher, uow: UowDep, request: Request, settings: SettingsDep
) -> Response:
    """The subscriptions of the caller's organization that match the query, as a searchset
    Bundle; a page is full unless it is the last."""
    items = request.query_params.multi_items()
    ignored: dict[str, str] | None = {} if lenient(request.headers.get("prefer", "")) else None
    matches = subscription_search.tests(items, ignored)
    count = request.query_params.get("_count")
    limit = max(
        min(
            parse_int(count, "_count", what="_count is a number")
            if count
            else settings.default_page_size,
            settings.max_page_size,
        ),
        1,
    )
    # An organization has few subscriptions: they are matched as they are read, until the page
    # is full (the cursor is the last id given).
    found: list[dict[str, Any]] = []
    after = cursor_position(request.query_params.get("_cursor"))
    while True:
        page = await service.list_subscriptions(uow, actor, limit=limit, after=after)
        found += [r for r in map(to_fhir, page.items) if all(test(r) for test in matches)]
        after = page.next_cursor
        if after is None or len(found) >= limit:
            break
    if len(found) > limit:
        found = found[:limit]
        after = found[-1]["id"]
    used = [(n, v) for n, v in items if n not in (ignored or {})]
    links = links_of(str(request.url.replace(query="")).rstrip("?"), used, after)
    base = f"{settings.issuer}/fhir"
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(datetime.now(UTC)),
        "link": links,
    }
    entries = [
        {"fullUrl": f"{base}/Subscription/{r['id']}", "resource": r, "search": {"mode": "match"}}
        for r in found
    ]
    if ignored:
        entries.append(ignored_outcome(ignored))
    if entries:
        bundle["entry"] = entries
    return fhir_response(bundle)


@api.get("/{subscription_id}", summary="Read a Subscription")
async def read_fhir_subscription(
    actor: Reader, subscription_id: Annotated[str, Path(max_length=64)], uow: UowDep
) -> Response:
    """One subscription of the caller's organization."""
    return fhir_response(to_fhir(await service.get_subscription(uow, actor, subscription_id)))


@api.delete("/{subscription_id}", summary="Delete a Subscription", status_code=204)
async def delete_fhir_subscription(
    actor: Deleter,
    subscription_id: Annotated[str, Path(max_length=64)],
    uow: UowDep,
    now: NowDep,
) -> Response:
    """End the subscription; pushes still waiting are dropped (the inbox keeps them)."""
    await service.delete_subscription(uow, actor, subscription_id, now=now)
    return Response(status_code=204)
