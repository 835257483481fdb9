"""Documents: share one on an episode, plan, meeting or care message; read it and its content."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated
from urllib.parse import quote

from fastapi import Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.attachments import PDF_EXAMPLE, DocumentSummary, DocumentUpload, summary
from app.api.v1.common import ListPage, page_of, router
from app.domain.documents import TEXT, Document, DocumentType
from app.domain.errors import InvalidInput
from app.domain.parties import RecordType
from app.http.deps import (
    BinaryReader,
    DocumentCreator,
    DocumentReader,
    DocumentRulesDep,
    DocumentSearcher,
    NowDep,
    PageDep,
    UowDep,
)
from app.http.errors import errors_for
from app.services import documents as service

api = router("/api/v1", "documents")


class RecordKind(StrEnum):
    """What a document can be attached to."""

    EPISODE = "episode"
    PLAN = "plan"
    MEETING = "meeting"
    MESSAGE = "message"


class AttachedTo(BaseModel):
    """The record a document is attached to; its parties are the document's."""

    model_config = ConfigDict(extra="forbid")

    type: RecordKind = Field(description="episode, plan, meeting or message")
    id: str = Field(max_length=36, description="the record's id")


class DocumentCreate(DocumentUpload):
    """A document shared on a record on its own (not with a notice)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "attached_to": {
                        "type": "episode",
                        "id": "7c0e9a4e-2f1b-4d5c-9a1e-3b6f2d8c4e11",
                    },
                    "type": "medication-list",
                    "title": "Läkemedelslista vid utskrivning",
                    "content_type": "application/pdf",
                    "data": PDF_EXAMPLE,
                }
            ]
        },
    )

    attached_to: AttachedTo = Field(description="the record whose parties see the document")


class DocumentRead(DocumentSummary):
    """A document's description, with what it is attached to and whom it is about."""

    attached_to: AttachedTo = Field(description="the record whose parties see the document")
    person_id: str | None = Field(description="the person the document is about")


def document_read(document: Document) -> DocumentRead:
    """The API shape of a document."""
    return DocumentRead(
        **summary(document).model_dump(),
        attached_to=AttachedTo(type=RecordKind(document.record_type.value), id=document.record_id),
        person_id=document.person_id,
    )


def carries_documents(path: str) -> bool:
    """Whether a request to ``path`` may carry a document (and so a larger body)."""
    return bool(_CARRYING.match(path))


_CARRYING = re.compile(
    r"^/api/v1/documents$"
    r"|^/api/v1/episodes/[^/]+/(admission-notice|discharge-ready|discharge)$"
    r"|^/fhir(/DocumentReference|/\$process-message)?$"
)


@api.post(
    "/documents",
    status_code=201,
    response_model=DocumentRead,
    responses=errors_for(404, 413, 415, 422),
)
async def share_document(
    actor: DocumentCreator,
    body: DocumentCreate,
    uow: UowDep,
    now: NowDep,
    rules: DocumentRulesDep,
    request: Request,
    response: Response,
) -> DocumentRead:
    """Share a document on a record: sent to the record's other parties as `document-shared`."""
    document = await service.share(
        uow,
        actor,
        RecordType(body.attached_to.type.value),
        body.attached_to.id,
        body.to_new("document"),
        rules,
        now=now,
    )
    response.headers["Location"] = str(request.url_for("get_document", document_id=document.id))
    return document_read(document)


@api.get("/documents", response_model=ListPage[DocumentRead], responses=errors_for(422))
async def list_documents(
    actor: DocumentSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    person_id: str | None = None,
    episode_id: str | None = None,
    plan_id: str | None = None,
    meeting_id: str | None = None,
    message_id: str | None = None,
    type: Annotated[list[DocumentType] | None, Query()] = None,
    author_id: str | None = None,
) -> dict[str, object]:
    """List the documents of records the caller is a party to, filtered."""
    named = {
        RecordType.EPISODE: episode_id,
        RecordType.PLAN: plan_id,
        RecordType.MEETING: meeting_id,
        RecordType.MESSAGE: message_id,
    }
    given = [(kind, ident) for kind, ident in named.items() if ident is not None]
    if len(given) > 1:
        raise InvalidInput(
            "filter by one of episode_id, plan_id, meeting_id, message_id", field="episode_id"
        )
    result = await service.list_documents(
        uow,
        actor,
        limit=page.limit,
        after=page.cursor,
        person_id=person_id,
        record=given[0] if given else None,
        types=type or (),
        author_id=author_id,
    )
    return page_of(request, result.items, result.next_cursor, document_read)


@api.get("/documents/{document_id}", response_model=DocumentRead, responses=errors_for(404))
async def get_document(actor: DocumentReader, document_id: str, uow: UowDep) -> DocumentRead:
    """Read a document's description (the content is at `content_url`)."""
    return document_read(await service.get_document(uow, actor, document_id))


CONTENT_RESPONSES = {
    200: {
        "description": "the content, with its own media type",
        "content": {
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
            "application/fhir+json": {"schema": {"type": "object"}},
        },
    },
    304: {"description": "the content has the entity tag of If-None-Match"},
    **errors_for(404),
}


@api.get(
    "/documents/{document_id}/content",
    response_class=Response,
    responses=CONTENT_RESPONSES,  # type: ignore[arg-type]
)
async def get_document_content(
    actor: BinaryReader,
    document_id: str,
    uow: UowDep,
    if_none_match: Annotated[
        str | None,
        Header(alias="If-None-Match", description="the ETag of a copy the caller holds"),
    ] = None,
) -> Response:
    """Read a document's content, with its Content-Type, Content-Disposition and ETag."""
    document, data = await service.get_content(uow, actor, document_id)
    tag = f'"{document.sha256}"'
    headers = {
        "ETag": tag,
        "Cache-Control": "private, no-cache",
        "Content-Disposition": _disposition(document.filename),
        "X-Content-Type-Options": "nosniff",
    }
    if if_none_match is not None and _matches(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    media = f"{TEXT}; charset=utf-8" if document.content_type == TEXT else document.content_type
    return Response(data, media_type=media, headers=headers)


def _matches(header: str, tag: str) -> bool:
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or tag in candidates


def _disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 name (RFC 6266, RFC 5987)."""
    fallback = "".join(c if c.isascii() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
