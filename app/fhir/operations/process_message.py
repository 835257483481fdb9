"""$process-message: a message Bundle applied to the domain, answered with a response message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from app.domain.errors import (
    DomainError,
    Forbidden,
    NotFound,
    StaleVersion,
    TooLarge,
    UnsupportedContent,
)
from app.domain.messages import ProcessedMessage
from app.fhir import messaging
from app.fhir.common import FHIR_JSON
from app.fhir.dispatch import SettingsDep, require_scope
from app.fhir.outcome import fhir_response, outcome
from app.http.deps import Caller, UowDep
from app.services import messages as dedupe

MESSAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FHIR_JSON: {
                "schema": {"type": "object", "description": "a Bundle of type message"},
                "example": {
                    "resourceType": "Bundle",
                    "id": "7b1f4c2e-0d7a-4f57-9c41-0e6f4b5a1c11",
                    "type": "message",
                    "timestamp": "2026-03-05T11:40:00+01:00",
                    "entry": [
                        {
                            "fullUrl": "urn:uuid:3f0c2b1a-7a51-4a8e-9f0e-8d6b2f1c5a22",
                            "resource": {
                                "resourceType": "MessageHeader",
                                "id": "3f0c2b1a-7a51-4a8e-9f0e-8d6b2f1c5a22",
                                "eventCoding": {
                                    "system": messaging.EVENT_SYSTEM,
                                    "code": "discharge-ready",
                                },
                                "source": {"endpoint": "urn:oid:1.2.752.29.4.19"},
                                "focus": [{"reference": "Encounter/<episode id>"}],
                            },
                        },
                        {
                            "fullUrl": "Encounter/<episode id>",
                            "resource": {
                                "resourceType": "Encounter",
                                "id": "<episode id>",
                                "status": "in-progress",
                                "class": {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                    "code": "IMP",
                                },
                            },
                        },
                    ],
                },
            }
        },
    }
}
_MESSAGE_SCOPES = {
    "admission-notice": ("Encounter", "c"),
    "sip-summons": ("Appointment", "c"),
    "sip-summons-reply": ("Appointment", "u"),
    "careplan-revised": ("CarePlan", "u"),
    "care-communication": ("Communication", "c"),
    "deviation-report": ("Task", "c"),
    "document-shared": ("DocumentReference", "c"),
    "acknowledgement": None,
}


async def process_message(
    request: Request, actor: Caller, uow: UowDep, settings: SettingsDep
) -> Response:
    """Apply a message to the domain and answer with a response message (ok / fatal-error).

    A Bundle.id already processed with the same MessageHeader.id gets the first response again;
    a Bundle.id reused with another MessageHeader.id is refused.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in (FHIR_JSON, "application/json"):
        return outcome(415, f"a message is sent as {FHIR_JSON}")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        return outcome(400, f"the body is not JSON: {exc}")
    try:
        message = messaging.parse(body)
    except messaging.MessageRefused as exc:
        return outcome(400, exc.message, expressions=[(exc.field, exc.message)])
    needed = _MESSAGE_SCOPES.get(message.event, ("Encounter", "u"))
    if needed is not None:
        require_scope(actor, *needed)
    now = datetime.now(UTC)
    not_before = now - timedelta(minutes=settings.message_dedupe_minutes)
    seen = await dedupe.claim(
        uow,
        actor.organization_id,
        ProcessedMessage(message.bundle_id, message.header_id, message.event, {}),
        now=now,
        not_before=not_before,
    )
    if seen is not None:
        if seen.header_id != message.header_id:
            return outcome(
                400,
                f"Bundle.id {message.bundle_id} was already processed with MessageHeader.id "
                f"{seen.header_id}; a new message needs a new Bundle.id",
                expressions=[("Bundle.id", "reused with another MessageHeader.id")],
            )
        return fhir_response(seen.response, headers={"X-Samverkan-Replayed": "true"})
    try:
        focus = await messaging.process(
            uow, actor, message, settings, now, request.app.state.liability.config
        )
    except StaleVersion as exc:
        conflict = {"severity": "error", "code": "conflict", "diagnostics": exc.message}
        return fhir_response(
            messaging.response(message, "transient-error", [], now, conflict), status=409
        )
    except DomainError as exc:
        issue: dict[str, Any] = {
            "severity": "error",
            "code": "processing",
            "diagnostics": exc.message,
        }
        if exc.field:
            issue["expression"] = [exc.field]
        status = 403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound) else 422
        if isinstance(exc, TooLarge | UnsupportedContent):
            status = 413 if isinstance(exc, TooLarge) else 415
        return fhir_response(
            messaging.response(message, "fatal-error", [], now, issue), status=status
        )
    answer = messaging.response(message, "ok", focus, now, None)
    await dedupe.answered(uow, actor.organization_id, message.bundle_id, answer)
    return fhir_response(answer)
