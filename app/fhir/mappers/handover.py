"""The municipality's answer and its confirmation that services started, as Encounter extensions.

The answer is the complex extension ``municipality-response`` (``answer`` can-receive or
cannot-receive-yet, ``canReceiveFrom``, ``reason``, ``plannedService`` codings, ``unit``
references, ``answered``); the confirmation is ``services-started`` (``arrived``, ``service``
codings, ``confirmed``). The Encounter carries the latest answer and the confirmation; a message
(``municipality-response``, ``services-started``) carries the one it sends on the Encounter it
focuses on. Chosen over a ``Communication``: the answer is state of the stay (the Norwegian
payment reads it), not a conversation, and the hospital reads it where it reads the stay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.extension import Extension

from app.domain.episodes import Episode
from app.domain.errors import InvalidInput
from app.domain.handover import Answer
from app.fhir import parse
from app.fhir.common import canonical, coding, day, extension_url, instant, ref
from app.services.commands import ConfirmServicesStarted, RecordMunicipalityResponse

MUNICIPALITY_RESPONSE = extension_url("municipality-response")
SERVICES_STARTED = extension_url("services-started")
PLANNED_SERVICE = canonical("CodeSystem", "planned-service")


def extensions(episode: Episode) -> list[dict[str, Any]]:
    """The Encounter extensions of the municipality's latest answer and its confirmation."""
    result: list[dict[str, Any]] = []
    answer = episode.latest_answer
    if answer is not None:
        parts: list[dict[str, Any]] = [
            {
                "url": "answer",
                "valueCode": Answer.CAN_RECEIVE.value
                if answer.can_receive_from is not None
                else Answer.CANNOT_RECEIVE_YET.value,
            }
        ]
        if answer.can_receive_from is not None:
            parts.append({"url": "canReceiveFrom", "valueDate": day(answer.can_receive_from)})
        if answer.reason:
            parts.append({"url": "reason", "valueString": answer.reason})
        parts += [
            {"url": "plannedService", "valueCoding": coding(PLANNED_SERVICE, code)}
            for code in answer.services
        ]
        parts += [{"url": "unit", "valueReference": ref("Organization", u)} for u in answer.units]
        parts.append({"url": "answered", "valueDateTime": instant(answer.at)})
        result.append({"url": MUNICIPALITY_RESPONSE, "extension": parts})
    started = episode.services_started
    if started is not None:
        parts = [{"url": "arrived", "valueDateTime": instant(started.arrived_at or started.at)}]
        parts += [
            {"url": "service", "valueCoding": coding(PLANNED_SERVICE, code)}
            for code in started.services
        ]
        parts.append({"url": "confirmed", "valueDateTime": instant(started.at)})
        result.append({"url": SERVICES_STARTED, "extension": parts})
    return result


def _parts(resource: Encounter, url: str, name: str) -> list[Extension]:
    found = [e for e in resource.extension or [] if e.url == url]
    if len(found) != 1:
        raise InvalidInput(
            f"a {name} message carries one Encounter.extension {url}",
            field=f"Encounter.extension({name})",
        )
    return found[0].extension or []


def _one(parts: list[Extension], url: str) -> Extension | None:
    return next((p for p in parts if p.url == url), None)


def _services(parts: list[Extension], url: str, name: str) -> tuple[str, ...]:
    codes: list[str] = []
    for part in parts:
        if part.url != url:
            continue
        value = part.valueCoding
        if value is None or value.system != PLANNED_SERVICE or not value.code:
            raise InvalidInput(
                f"{url} is a Coding of {PLANNED_SERVICE}",
                field=f"Encounter.extension({name}).extension({url})",
            )
        codes.append(str(value.code))
    return tuple(codes)


def answer_from_fhir(resource: Encounter, at: datetime | None) -> RecordMunicipalityResponse:
    """The municipality's answer from the ``municipality-response`` extension of an Encounter."""
    name = "municipality-response"
    parts = _parts(resource, MUNICIPALITY_RESPONSE, name)
    answer = _one(parts, "answer")
    code = answer.valueCode if answer is not None else None
    if code not in {a.value for a in Answer}:
        raise InvalidInput(
            "the answer is can-receive or cannot-receive-yet",
            field=f"Encounter.extension({name}).extension(answer)",
        )
    since = _one(parts, "canReceiveFrom")
    reason = _one(parts, "reason")
    units = tuple(
        parse.reference_id(
            p.valueReference, "Organization", f"Encounter.extension({name}).extension(unit)"
        )
        for p in parts
        if p.url == "unit"
    )
    return RecordMunicipalityResponse(
        at=at,
        answer=Answer(code),
        can_receive_from=parse.optional_day(
            since.valueDate if since is not None else None,
            f"Encounter.extension({name}).extension(canReceiveFrom)",
        ),
        reason=reason.valueString if reason is not None else None,
        services=_services(parts, "plannedService", name),
        units=units,
    )


def started_from_fhir(resource: Encounter, at: datetime | None) -> ConfirmServicesStarted:
    """The confirmation that services started, from the ``services-started`` extension."""
    name = "services-started"
    parts = _parts(resource, SERVICES_STARTED, name)
    arrived = _one(parts, "arrived")
    value = arrived.valueDateTime if arrived is not None else None
    return ConfirmServicesStarted(
        at=at,
        arrived_at=(
            parse.instant_or_day(value, f"Encounter.extension({name}).extension(arrived)")
            if value
            else None
        ),
        services=_services(parts, "service", name),
    )
