"""Care message → Communication (https://hl7.org/fhir/R4/communication.html).

The subject line is the ``topic``, the text the payload; a reply is ``inResponseTo`` the message
it answers and ``partOf`` its thread's first message. Each recipient's copy (delivered, read,
acknowledged with an outcome) is a ``recipient-state`` extension, one per recipient.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.communication import Communication

from app.domain.care_messages import CareMessage, Category, Priority
from app.domain.errors import InvalidInput
from app.fhir import parse
from app.fhir.common import canonical, concept, instant, meta, ref
from app.services.care_messages import Draft

CATEGORY = canonical("CodeSystem", "care-message-category")
RECIPIENT_STATE = canonical("StructureDefinition", "recipient-state")


def _recipient_state(message: CareMessage) -> list[dict[str, Any]]:
    found = []
    for copy in message.recipients:
        parts: list[dict[str, Any]] = [
            {"url": "recipient", "valueReference": ref("Organization", copy.organization_id)},
            {"url": "state", "valueCode": copy.state.value},
        ]
        if copy.read_at is not None:
            parts.append({"url": "read", "valueDateTime": instant(copy.read_at)})
        if copy.outcome is not None:
            parts.append({"url": "outcome", "valueCode": copy.outcome.value})
        if copy.acknowledged_at is not None:
            parts.append({"url": "acknowledged", "valueDateTime": instant(copy.acknowledged_at)})
        found.append({"url": RECIPIENT_STATE, "extension": parts})
    return found


def to_fhir(message: CareMessage) -> dict[str, Any]:
    """The Communication resource of a care message."""
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": message.id,
        "meta": meta(message.version, message.last_changed_at),
        "extension": _recipient_state(message),
        "status": "completed",
        "category": [concept(CATEGORY, message.category.value)],
        "priority": message.priority.value,
        "sent": instant(message.sent_at),
        "sender": ref("Organization", message.sender_id),
        "recipient": [ref("Organization", r.organization_id) for r in message.recipients],
        "payload": [{"contentString": message.text}],
    }
    if message.person_id is not None:
        resource["subject"] = ref("Patient", message.person_id)
    if message.subject:
        resource["topic"] = {"text": message.subject}
    if message.in_reply_to is not None:
        resource["inResponseTo"] = [ref("Communication", message.in_reply_to)]
    if message.thread_id != message.id:
        resource["partOf"] = [ref("Communication", message.thread_id)]
    return resource


def from_fhir(resource: Communication) -> Draft:
    """A message to send, from a Communication."""
    if resource.status != "completed":
        raise InvalidInput(
            "a care message is sent as a completed Communication", field="Communication.status"
        )
    codes = [
        c.code
        for category in resource.category or []
        for c in category.coding or []
        if c.system == CATEGORY
    ]
    try:
        category = Category(str(codes[0])) if codes else Category.OTHER
    except ValueError as exc:
        allowed = ", ".join(c.value for c in Category)
        raise InvalidInput(
            f"the category is one of {allowed}", field="Communication.category"
        ) from exc
    try:
        priority = Priority(resource.priority or "routine")
    except ValueError as exc:
        raise InvalidInput(
            "priority is routine, urgent, asap or stat", field="Communication.priority"
        ) from exc
    texts = [p.contentString for p in resource.payload or [] if p.contentString]
    if not texts:
        raise InvalidInput(
            "a care message carries its text as payload.contentString",
            field="Communication.payload",
        )
    replies = resource.inResponseTo or []
    return Draft(
        recipients=tuple(
            parse.reference_id(r, "Organization", f"Communication.recipient[{i}]")
            for i, r in enumerate(resource.recipient or [])
        ),
        text="\n\n".join(texts),
        subject=(resource.topic.text if resource.topic is not None else None) or "",
        category=category,
        priority=priority,
        person_id=parse.reference_id(resource.subject, "Patient", "Communication.subject")
        if resource.subject is not None
        else None,
        in_reply_to=parse.reference_id(replies[0], "Communication", "Communication.inResponseTo[0]")
        if replies
        else None,
    )
