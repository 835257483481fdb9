"""Use cases of documents: share one on a record, attach them to a notice, read them.

A document has the parties of the record it is attached to (an episode, a plan, a meeting, a
care message): whoever may see the record sees its documents, and no one else; every read of a
document or its content is in the access log. A document shared on its own is the message
``document-shared`` to the record's other parties; one sent with a notice goes with the notice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.domain.documents import (
    ATTACHABLE,
    CONTENT_TYPES,
    Document,
    DocumentType,
    check_content,
    digest,
)
from app.domain.errors import InvalidInput, NotFound
from app.domain.message_events import MessageEvent
from app.domain.parties import RecordType
from app.security.access import Actor, acts_for, not_found, read_attached, record
from app.services.ports import emit, payload
from app.services.routing import document_receivers
from app.store.paging import AnyOf, Page
from app.store.unit_of_work import UnitOfWork

RESOURCE = "DocumentReference"
CONTENT = "Binary"
# What a record type is called in a reference and in the outbox stream.
RESOURCE_OF = {
    RecordType.EPISODE: "Encounter",
    RecordType.PLAN: "CarePlan",
    RecordType.MEETING: "Appointment",
    RecordType.MESSAGE: "Communication",
}


@dataclass(frozen=True, slots=True)
class DocumentRules:
    """The size limit and the accepted media types (settings)."""

    max_bytes: int = 4_194_304
    content_types: tuple[str, ...] = CONTENT_TYPES


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document as sent; ``author_id`` defaults to the caller's acting unit."""

    type: DocumentType
    title: str
    content_type: str
    data: bytes
    description: str | None = None
    author_id: str | None = None
    field: str = "document"


@dataclass(frozen=True, slots=True)
class Attached:
    """A record a document can be attached to, as the caller found it."""

    record_type: RecordType
    record_id: str
    person_id: str | None
    stream: str = field(default="")


async def find_record(
    uow: UnitOfWork, actor: Actor, record_type: RecordType, record_id: str, *, field: str
) -> Attached:
    """The record, if the caller is a party to it; 404 naming ``field`` otherwise (logged)."""
    if record_type not in ATTACHABLE:
        raise InvalidInput(
            f"a document is attached to an episode, a plan, a meeting or a care message, not "
            f"a {record_type.value}",
            field=field,
        )
    found: object | None
    match record_type:
        case RecordType.EPISODE:
            found = await uow.episodes.get(record_id)
        case RecordType.PLAN:
            found = await uow.plans.get(record_id)
        case RecordType.MEETING:
            found = await uow.meetings.get(record_id)
        case _:
            found = await uow.care_messages.get(record_id)
    person_id: str | None = getattr(found, "person_id", None)
    resource = RESOURCE_OF[record_type]
    if found is None or not await uow.parties.within(record_type, record_id, actor.reach):
        record(uow, actor, "update", resource, record_id, person_id, outcome="denied")
        error = not_found(record_type.value, record_id)
        error.field = field
        raise error
    stream_id = getattr(found, "thread_id", record_id)
    return Attached(record_type, record_id, person_id, f"{resource}/{stream_id}")


def check(new: NewDocument, rules: DocumentRules) -> str:
    """The media type of acceptable content; refuses it otherwise, naming the field."""
    if not new.title.strip():
        raise InvalidInput("a document has a title", field=f"{new.field}.title")
    return check_content(
        new.content_type,
        new.data,
        allowed=rules.content_types,
        max_bytes=rules.max_bytes,
        field=new.field,
    )


async def attach(
    uow: UnitOfWork,
    actor: Actor,
    target: Attached,
    documents: Sequence[NewDocument],
    rules: DocumentRules,
    *,
    now: datetime,
) -> list[Document]:
    """Store documents on a record the caller found; every one is checked before any is
    written."""
    kinds = [check(new, rules) for new in documents]
    for new in documents:
        if new.author_id is not None and not await acts_for(uow, actor, new.author_id):
            raise InvalidInput(
                f"the author is the caller's own unit; the caller acts for {actor.acting_id}",
                field=f"{new.field}.author",
            )
    stored = []
    for new, kind in zip(documents, kinds, strict=True):
        document = Document(
            id=str(uuid.uuid4()),
            record_type=target.record_type,
            record_id=target.record_id,
            person_id=target.person_id,
            type=new.type,
            title=new.title.strip()[:200],
            content_type=kind,
            size=len(new.data),
            sha256=digest(new.data),
            author_id=new.author_id or actor.acting_id,
            created_at=now,
            description=new.description,
        )
        await uow.documents.add(document, new.data)
        record(uow, actor, "create", RESOURCE, document.id, document.person_id)
        stored.append(document)
    return stored


async def share(
    uow: UnitOfWork,
    actor: Actor,
    record_type: RecordType,
    record_id: str,
    new: NewDocument,
    rules: DocumentRules,
    *,
    now: datetime,
) -> Document:
    """Share a document on a record: stored, and sent as ``document-shared`` to the record's
    other parties (on a Norwegian episode, to the municipality's service that documents are
    addressed to)."""
    target = await find_record(uow, actor, record_type, record_id, field="attached_to")
    check(new, rules)
    (document,) = await attach(uow, actor, target, [new], rules, now=now)
    parties = await uow.parties.of_record(record_type, record_id)
    receivers = [p.organization_id for p in parties]
    episode = await uow.episodes.get(record_id) if record_type is RecordType.EPISODE else None
    if episode is not None:
        receivers = await document_receivers(uow, episode, parties)
    # A principal's system sharing for one of its units: that unit is the sender too.
    receivers = [r for r in receivers if r != actor.acting_id]
    await emit(
        uow,
        event=MessageEvent.DOCUMENT_SHARED,
        stream=target.stream,
        person_id=target.person_id,
        receivers=receivers,
        payload=payload(
            MessageEvent.DOCUMENT_SHARED,
            f"DocumentReference/{document.id}",
            target.person_id,
            now,
            context=f"{RESOURCE_OF[record_type]}/{record_id}",
            type=document.type.value,
            content_type=document.content_type,
        ),
        now=now,
        sender=actor,
    )
    return document


async def get_document(
    uow: UnitOfWork, actor: Actor, document_id: str, *, resource: str = RESOURCE
) -> Document:
    """The document, if the caller is a party to the record it is attached to; 404 (and a log
    entry) otherwise."""
    document = await uow.documents.get(document_id)
    attached = (document.record_type, document.record_id) if document else None
    return await read_attached(uow, actor, document, attached, (resource, document_id), "document")


async def get_content(uow: UnitOfWork, actor: Actor, document_id: str) -> tuple[Document, bytes]:
    """The document and its content (a read of the content, logged as such)."""
    document = await get_document(uow, actor, document_id, resource=CONTENT)
    data = await uow.documents.contents.get(document.id)
    if data is None:
        raise NotFound(f"the content of document {document_id} is missing from the store")
    return document, data


async def list_documents(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int,
    after: str | None,
    person_id: AnyOf = None,
    record: tuple[RecordType, AnyOf] | None = None,
    types: Sequence[DocumentType] = (),
    author_id: AnyOf = None,
    ids: AnyOf = None,
) -> Page[Document]:
    """The documents the caller sees, filtered (a collection: any of its values); each one
    listed is in the access log."""
    page = await uow.documents.page(
        limit=limit,
        after=after,
        visible_to=actor.reach,
        person_id=person_id,
        record=record,
        types=types,
        author_id=author_id,
        ids=ids,
    )
    for document in page.items:
        _log_search(uow, actor, document)
    return page


def _log_search(uow: UnitOfWork, actor: Actor, document: Document) -> None:
    record(uow, actor, "search", RESOURCE, document.id, document.person_id)
