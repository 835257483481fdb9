"""Care messages between units: send, reply, list, read, mark read, acknowledge (DESIGN §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.v1.common import ListPage, page_of, router, version_tag
from app.domain.care_messages import CareMessage, Category, Priority, RecipientState
from app.domain.delivery import Outcome
from app.domain.episodes import check_aware
from app.domain.errors import InvalidInput
from app.http.deps import (
    CommunicationCreator,
    CommunicationReader,
    CommunicationSearcher,
    CommunicationUpdater,
    NowDep,
    PageDep,
    UowDep,
)
from app.http.errors import errors_for
from app.http.shapes import command, shaped
from app.http.values import Instant
from app.services import care_messages as service

api = router("/api/v1", "care messages")
OrgId = Annotated[str, Field(min_length=1, max_length=64)]


class MessageCreate(BaseModel):
    """A new message, or a reply (``in_reply_to``) that joins its thread."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "recipients": ["kommun-0880-hemtjanst"],
                    "person_id": "5f1c2b9e-7d3a-4f6e-8b1a-2c3d4e5f6a7b",
                    "category": "discharge",
                    "priority": "urgent",
                    "subject": "Hemgång fredag",
                    "text": "Patienten behöver insatser från fredag morgon.",
                }
            ]
        },
    )

    recipients: list[OrgId] = Field(default_factory=list, max_length=20)
    text: str = Field(min_length=1, max_length=20_000)
    subject: str = Field(default="", max_length=200)
    category: Category = Category.OTHER
    priority: Priority = Priority.ROUTINE
    person_id: str | None = Field(default=None, max_length=36)
    in_reply_to: str | None = Field(default=None, max_length=36)


class Acknowledgement(BaseModel):
    """A recipient's acknowledgement (MedCom's outcomes)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    detail: str | None = Field(default=None, max_length=1000)


class ReadMark(BaseModel):
    """That the recipient has read the message, and when (default: now)."""

    model_config = ConfigDict(extra="forbid")

    at: Instant | None = None


class RecipientRead(BaseModel):
    """One recipient's copy."""

    organization_id: str
    state: RecipientState
    read_at: datetime | None
    outcome: Outcome | None
    detail: str | None
    acknowledged_at: datetime | None


class MessageRead(BaseModel):
    """A care message and each recipient's state."""

    id: str
    thread_id: str
    in_reply_to: str | None
    sender_id: str
    person_id: str | None
    category: Category
    priority: Priority
    subject: str
    text: str
    sent_at: datetime
    recipients: list[RecipientRead]
    version: int


def message_read(message: CareMessage) -> MessageRead:
    """The API shape of a message."""
    return shaped(MessageRead, message)


def _answer(message: CareMessage, response: Response) -> MessageRead:
    response.headers["ETag"] = version_tag(message.version)
    return message_read(message)


@api.post(
    "/care-messages",
    status_code=201,
    response_model=MessageRead,
    responses=errors_for(404, 415, 422),
)
async def send_care_message(
    actor: CommunicationCreator,
    body: MessageCreate,
    uow: UowDep,
    now: NowDep,
    request: Request,
    response: Response,
) -> MessageRead:
    """Send a message to one or more organizations, about a person or not."""
    message = await service.send(
        uow,
        actor,
        command(service.Draft, body, recipients=tuple(body.recipients)),
        now=now,
    )
    response.headers["Location"] = str(request.url_for("get_care_message", message_id=message.id))
    return _answer(message, response)


@api.get("/care-messages", response_model=ListPage[MessageRead], responses=errors_for(422))
async def list_care_messages(
    actor: CommunicationSearcher,
    uow: UowDep,
    page: PageDep,
    request: Request,
    box: Annotated[Literal["sent", "received"] | None, Query()] = None,
    person_id: str | None = None,
    thread_id: str | None = None,
    category: Category | None = None,
) -> dict[str, object]:
    """The messages the caller's organization sent or received (``box`` picks one)."""
    result = await service.list_messages(
        uow,
        actor,
        limit=page.limit,
        after=page.cursor,
        box=box,
        person_id=person_id,
        thread_id=thread_id,
        category=category,
    )
    return page_of(request, result.items, result.next_cursor, message_read)


@api.get("/care-messages/{message_id}", response_model=MessageRead, responses=errors_for(404))
async def get_care_message(
    actor: CommunicationReader, message_id: str, uow: UowDep, response: Response
) -> MessageRead:
    """Read a message (reading does not mark it read: that is the recipient's own step)."""
    return _answer(await service.get_message(uow, actor, message_id), response)


@api.post(
    "/care-messages/{message_id}/read",
    response_model=MessageRead,
    responses=errors_for(403, 404, 409, 415, 422),
)
async def mark_care_message_read(
    actor: CommunicationUpdater,
    message_id: str,
    body: ReadMark,
    uow: UowDep,
    now: NowDep,
    response: Response,
) -> MessageRead:
    """The caller's organization, a recipient, has read the message."""
    if body.at is not None:
        check_aware(body.at, "at")
    if body.at is not None and body.at > now:
        raise InvalidInput("a message cannot be read in the future", field="at")
    message = await service.mark_read(uow, actor, message_id, now=body.at or now)
    return _answer(message, response)


@api.post(
    "/care-messages/{message_id}/acknowledgement",
    response_model=MessageRead,
    responses=errors_for(403, 404, 409, 415, 422),
)
async def acknowledge_care_message(
    actor: CommunicationUpdater,
    message_id: str,
    body: Acknowledgement,
    uow: UowDep,
    now: NowDep,
    response: Response,
) -> MessageRead:
    """Acknowledge as a recipient: ok, transient-error (may be followed by another) or
    fatal-error."""
    message = await service.acknowledge(uow, actor, message_id, body.outcome, body.detail, now=now)
    return _answer(message, response)
