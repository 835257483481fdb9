"""DocumentReference and Binary: documents attached to episodes, plans, meetings and messages.

A DocumentReference describes the document (https://hl7.org/fhir/R4/documentreference.html):
``type`` from the service's CodeSystem ``document-type``, ``subject`` the person, ``author`` the
unit, ``context.encounter`` the episode or ``context.related`` the plan, meeting or care message
it is attached to, and ``content.attachment.url`` the Binary that holds the bytes
(https://hl7.org/fhir/R4/binary.html). A document comes in by create, or inside a message Bundle
as a DocumentReference whose attachment carries the data or points to a Binary entry.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fhir.resources.R4B.binary import Binary
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.resource import Resource as Model

from app.domain.documents import DOCUMENT_TYPE_DISPLAY, Document, DocumentType
from app.domain.episodes import Episode
from app.domain.errors import InvalidInput
from app.domain.parties import RecordType
from app.fhir import parse
from app.fhir.common import canonical, concept, instant, ref
from app.security.access import Actor
from app.services import documents as service
from app.services.documents import DocumentRules, NewDocument
from app.services.notice_content import discharge_information_of
from app.settings import Settings
from app.store.unit_of_work import UnitOfWork

Resource = dict[str, Any]
TYPE_SYSTEM = canonical("CodeSystem", "document-type")
RECORD_OF = {
    "Encounter": RecordType.EPISODE,
    "CarePlan": RecordType.PLAN,
    "Appointment": RecordType.MEETING,
    "Communication": RecordType.MESSAGE,
}


def to_fhir(document: Document) -> Resource:
    """The DocumentReference of a document."""
    resource: Resource = {
        "resourceType": "DocumentReference",
        "id": document.id,
        "meta": {"versionId": "1", "lastUpdated": instant(document.created_at)},
        "status": "current",
        "type": concept(TYPE_SYSTEM, document.type.value, DOCUMENT_TYPE_DISPLAY[document.type]),
        "date": instant(document.created_at),
        "author": [ref("Organization", document.author_id)],
        "content": [
            {
                "attachment": {
                    "contentType": document.content_type,
                    "url": f"Binary/{document.id}",
                    "size": document.size,
                    "title": document.title,
                    "creation": instant(document.created_at),
                }
            }
        ],
    }
    if document.description:
        resource["description"] = document.description
    if document.person_id:
        resource["subject"] = ref("Patient", document.person_id)
    target = ref(service.RESOURCE_OF[document.record_type], document.record_id)
    if document.record_type is RecordType.EPISODE:
        resource["context"] = {"encounter": [target]}
    else:
        resource["context"] = {"related": [target]}
    return resource


def binary(document: Document, data: bytes) -> Resource:
    """The Binary of a document's content; its security context is the DocumentReference."""
    return {
        "resourceType": "Binary",
        "id": document.id,
        "meta": {"versionId": "1", "lastUpdated": instant(document.created_at)},
        "contentType": document.content_type,
        "securityContext": ref("DocumentReference", document.id),
        "data": base64.b64encode(data).decode(),
    }


def attached_to(resource: DocumentReference) -> tuple[RecordType, str]:
    """The record a DocumentReference attaches to: its encounter, or its related plan, meeting
    or care message."""
    context = resource.context
    for reference in (context.encounter if context is not None else None) or []:
        episode = parse.reference_to(reference, ("Encounter",))
        if episode is not None:
            return RecordType.EPISODE, episode[1]
    for reference in (context.related if context is not None else None) or []:
        found = parse.reference_to(reference, RECORD_OF)
        if found is not None:
            return RECORD_OF[found[0]], found[1]
    raise InvalidInput(
        "a document is attached to an Encounter (context.encounter) or to a CarePlan, "
        "Appointment or Communication (context.related)",
        field="DocumentReference.context",
    )


def from_fhir(
    resource: DocumentReference, entries: Mapping[str, Model] | None = None, *, field: str = ""
) -> NewDocument:
    """A document from a DocumentReference; its content inline (``attachment.data``) or in a
    Binary that ``attachment.url`` names among ``entries`` (a message's).

    The model holds the content decoded; that it was base64 is checked with the rest of the
    body (``app.fhir.primitives``)."""
    where = field or "DocumentReference"
    codings = resource.type.coding if resource.type is not None else None
    codes = [c.code for c in codings or [] if c.system == TYPE_SYSTEM]
    if not codes or codes[0] not in {t.value for t in DocumentType}:
        raise InvalidInput(
            f"DocumentReference.type is a code of {TYPE_SYSTEM}: "
            f"{', '.join(t.value for t in DocumentType)}",
            field=f"{where}.type",
        )
    contents = resource.content or []
    if len(contents) != 1:
        raise InvalidInput("a document has exactly one content", field=f"{where}.content")
    attachment = contents[0].attachment
    content_type = attachment.contentType
    if attachment.data is not None:
        data = attachment.data
    else:
        found = (entries or {}).get(str(attachment.url or ""))
        if not isinstance(found, Binary):
            raise InvalidInput(
                "the attachment carries its data, or its url names a Binary entry of the message",
                field=f"{where}.content[0].attachment",
            )
        if found.data is None:
            raise InvalidInput("the content is given as base64 data", field="Binary.data")
        data = found.data
        binary_type = found.contentType
        if content_type and binary_type and content_type != binary_type:
            raise InvalidInput(
                f"the attachment declares {content_type}, its Binary {binary_type}",
                field=f"{where}.content[0].attachment.contentType",
            )
        content_type = content_type or binary_type
    if not content_type:
        raise InvalidInput(
            "the attachment names its contentType",
            field=f"{where}.content[0].attachment.contentType",
        )
    authors = [parse.organization_of(a) for a in resource.author or []]
    author = next((a for a in authors if a), None)
    title = attachment.title or resource.description or codes[0]
    return NewDocument(
        type=DocumentType(codes[0]),
        title=str(title),
        content_type=str(content_type),
        data=data,
        description=resource.description,
        author_id=author,
        field=f"{where}.content[0].attachment",
    )


def subject_of(resource: DocumentReference) -> str | None:
    """The person a DocumentReference names (``Patient/id``), if it names one."""
    found = parse.reference_to(resource.subject, ("Patient",))
    return found[1] if found is not None else None


def rules_of(settings: Settings) -> DocumentRules:
    """The size limit and accepted media types of the settings."""
    return DocumentRules(settings.document_max_bytes, tuple(settings.document_content_types))


async def create(
    uow: UnitOfWork,
    actor: Actor,
    resource: DocumentReference,
    settings: Settings,
    now: datetime,
    *,
    entries: Mapping[str, Model] | None = None,
) -> tuple[Resource, bool]:
    """Share a document on the record its context names (``document-shared`` to the record's
    other parties); its content inline, or in a Binary among a message's ``entries``."""
    record_type, record_id = attached_to(resource)
    new = from_fhir(resource, entries)
    target = await service.find_record(
        uow, actor, record_type, record_id, field="DocumentReference.context"
    )
    subject = subject_of(resource)
    if subject is not None and subject != target.person_id:
        raise InvalidInput(
            "DocumentReference.subject is not the person of the record it is attached to",
            field="DocumentReference.subject",
        )
    document = await service.share(
        uow, actor, record_type, record_id, new, rules_of(settings), now=now
    )
    return to_fhir(document), True


# --- the interactions ------------------------------------------------------------------------


async def read(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    """DocumentReference read."""
    return to_fhir(await service.get_document(uow, actor, ident))


async def read_binary(uow: UnitOfWork, actor: Actor, ident: str) -> Resource:
    """Binary read (as a resource; the content itself is served by the Binary route)."""
    document, data = await service.get_content(uow, actor, ident)
    return binary(document, data)


def period(resource: Resource) -> tuple[str | None, str | None]:
    """What a ``date`` search compares: when the document was received."""
    return resource.get("date"), resource.get("date")


DISCHARGE_INFORMATION = canonical("StructureDefinition", "discharge-information")


async def with_discharge_information(
    uow: UnitOfWork, episodes: list[Episode], resources: list[Resource], now: datetime
) -> list[Resource]:
    """The Encounters with the discharge information's timeliness as an extension, once
    discharged (on-time, late or pending)."""
    found = await discharge_information_of(uow, episodes, now=now)
    for episode, resource in zip(episodes, resources, strict=True):
        timeliness = found[episode.id]
        if timeliness is not None:
            resource.setdefault("extension", []).append(
                {"url": DISCHARGE_INFORMATION, "valueCode": timeliness.value}
            )
    return resources
