"""Care message → Communication (https://hl7.org/fhir/R4/communication.html).

The subject line is the ``topic``, the text the payload; a reply is ``inResponseTo`` the message
it answers and ``partOf`` its thread's first message. Each recipient's copy (delivered, read,
acknowledged with an outcome) is a ``recipient-state`` extension, one per recipient.
"""

from __future__ import annotations

from typing import Any

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


def _id_of(reference: dict[str, Any] | None, kind: str, field: str) -> str:
    return parse.reference_id(reference, kind, field)


def from_fhir(resource: dict[str, Any]) -> Draft:
    """A message to send, from a Communication."""
    if resource.get("status") != "completed":
        raise InvalidInput(
            "a care message is sent as a completed Communication", field="Communication.status"
        )
    codes = [
        c.get("code")
        for category in resource.get("category") or []
        for c in category.get("coding") or []
        if c.get("system") == CATEGORY
    ]
    try:
        category = Category(codes[0]) if codes else Category.OTHER
    except ValueError as exc:
        allowed = ", ".join(c.value for c in Category)
        raise InvalidInput(
            f"the category is one of {allowed}", field="Communication.category"
        ) from exc
    try:
        priority = Priority(resource.get("priority") or "routine")
    except ValueError as exc:
        raise InvalidInput(
            "priority is routine, urgent, asap or stat", field="Communication.priority"
        ) from exc
    texts = [
        p.get("contentString") for p in resource.get("payload") or [] if p.get("contentString")
    ]
    if not texts:
        raise InvalidInput(
            "a care message carries its text as payload.contentString",
            field="Communication.payload",
        )
    replies = resource.get("inResponseTo") or []
    return Draft(
        recipients=tuple(
            _id_of(r, "Organization", f"Communication.recipient[{i}]")
            for i, r in enumerate(resource.get("recipient") or [])
        ),
        text="\n\n".join(texts),
        subject=(resource.get("topic") or {}).get("text") or "",
        category=category,
        priority=priority,
        person_id=_id_of(resource["subject"], "Patient", "Communication.subject")
        if resource.get("subject")
        else None,
        in_reply_to=_id_of(replies[0], "Communication", "Communication.inResponseTo[0]")
        if replies
        else None,
    )
